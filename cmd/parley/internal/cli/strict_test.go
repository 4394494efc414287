package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Unknown or missing subcommands, bad arguments and bad flags are errors
// with the usage, for every command group.
func TestUnknownSubcommandFails(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	if code, _, errb := runMain("init"); code != 0 {
		t.Fatalf("init: %d %s", code, errb)
	}
	root := (&app{}).rootCmd()
	groups := 0
	for _, c := range root.Commands() {
		if !c.HasSubCommands() || c.Name() == "help" {
			continue
		}
		groups++
		for _, args := range [][]string{{c.Name(), "frobnicate"}, {c.Name()}} {
			code, out, errb := runMain(args...)
			if code == 0 || !strings.Contains(errb, "Usage:") || !strings.Contains(errb, "parley "+c.Name()) {
				t.Errorf("%v: exit %d\nstdout %q\nstderr %q", args, code, out, errb)
			}
			if len(args) == 2 && !strings.Contains(errb, `unknown command "frobnicate" for "parley `+c.Name()+`"`) {
				t.Errorf("%v: stderr %q", args, errb)
			}
		}
	}
	if groups == 0 {
		t.Fatal("no command groups found")
	}
	for _, args := range [][]string{{"frobnicate"}, {"groups", "extra"}, {"history"}, {"groups", "--bogus"}, {"group", "create"}} {
		code, _, errb := runMain(args...)
		if code == 0 || !strings.HasPrefix(errb, "parley: ") || !strings.Contains(errb, "Usage:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb)
		}
	}
	// Help on request still exits 0.
	if code, out, _ := runMain("group", "--help"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("group --help: exit %d, %q", code, out)
	}
}

// Client commands refuse a profile that does not exist, and create nothing.
func TestMissingProfileRefused(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PARLEY_HOME", home)
	for _, args := range [][]string{{"groups"}, {"history", "G"}, {"group", "members", "G"}, {"status"}, {"peers"},
		{"send", "G", "hi"}, {"tail", "G"}, {"group", "create", "G"}, {"web"}} {
		code, _, errb := runMain(append([]string{"--profile", "typo"}, args...)...)
		if code == 0 || !strings.Contains(errb, `no such profile "typo"`) || !strings.Contains(errb, "parley --profile typo init") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb)
		}
	}
	code, _, errb := runMain("groups")
	if code == 0 || !strings.Contains(errb, `no such profile "default"`) || !strings.Contains(errb, "`parley init`") {
		t.Errorf("default profile: exit %d, stderr %q", code, errb)
	}
	if des, _ := os.ReadDir(home); len(des) != 0 {
		t.Fatalf("client commands created %v", des)
	}
	// init creates it; then the client commands work.
	if code, _, errb := runMain("--profile", "typo", "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errb)
	}
	if _, err := os.Stat(filepath.Join(home, "typo", "store")); err != nil {
		t.Fatal(err)
	}
	if code, _, errb := runMain("--profile", "typo", "groups"); code != 0 {
		t.Fatalf("groups after init: %d %s", code, errb)
	}
}
