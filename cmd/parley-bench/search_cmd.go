package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/bench"
)

// runSearch is --search N: the search benchmark instead of the standard runs.
func runSearch(ctx context.Context, cfg bench.SearchConfig, jsonPath string, stdout, stderr io.Writer) error {
	cfg.Progress = stderr
	res, err := bench.RunSearch(ctx, cfg)
	if err != nil {
		return err
	}
	res.WriteMarkdown(stdout)
	return writeJSONFile(jsonPath, res)
}

func searchJSONPath(outDir, jsonPath string) string {
	if jsonPath != "" {
		return jsonPath
	}
	return filepath.Join(outDir, "search.json")
}

func writeJSONFile(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
