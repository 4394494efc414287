package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/filebench"
)

// runFiles is --files: the parent measures, a child (--files-child) serves.
func runFiles(ctx context.Context, size, child string, rounds int, cpuProfile string, stdout, stderr io.Writer, log *slog.Logger) error {
	n, err := parseSize(size)
	if err != nil {
		return err
	}
	if child != "" {
		return filebench.Child(ctx, child, n, rounds, cpuProfile, stdout, log)
	}
	res, err := filebench.Run(ctx, n, rounds, cpuProfile, stderr, log)
	if err != nil {
		return err
	}
	res.WriteMarkdown(stdout)
	return nil
}

func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--files: bad size %q (e.g. 1GiB)", s)
	}
	return int64(v * float64(mult)), nil
}
