package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every flag of the former `parley bench` is still there.
func TestHelpListsFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"nodes", "degree", "size", "rate", "duration", "senders", "sizes", "skip-throughput",
		"step", "steps", "max-rate", "drain", "catchup", "skip-catchup", "idle-nodes", "idle-window", "mem", "net",
		"skip-baseline", "skip-latency", "out", "json", "png", "cpuprofile", "memprofile", "blockprofile", "log-level"} {
		if !strings.Contains(out.String(), "--"+f+" ") {
			t.Errorf("--help does not list --%s", f)
		}
	}
}

func TestBadArgumentsFail(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nodes", "1"}, {"--net", "udp"}, {"--log-level", "loud"}} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--out", t.TempDir()), &out, &errb); code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		} else if !strings.HasPrefix(errb.String(), "parley-bench: ") {
			t.Errorf("%v: stderr %q, want a parley-bench: error", args, errb.String())
		}
	}
}

// A tiny run end to end: a Markdown table on stdout, the JSON and the PNG
// under --out.
func TestTinyRunWritesOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--nodes", "2", "--rate", "20", "--duration", "500ms", "--drain", "5s",
		"--skip-throughput", "--skip-catchup", "--mem", "--net", "mocknet", "--idle-window", "100ms",
		"--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "|") {
		t.Errorf("stdout has no Markdown table:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Nodes int }
	if err := json.Unmarshal(b, &res); err != nil || res.Nodes != 2 {
		t.Errorf("bench.json: nodes %d, err %v", res.Nodes, err)
	}
	png, err := os.ReadFile(filepath.Join(dir, "latency-cdf.png"))
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("latency-cdf.png missing or not a PNG (%v)", err)
	}
	for _, want := range []string{"raw figures: ", "latency CDF: "} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}
