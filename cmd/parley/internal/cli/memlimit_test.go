package cli

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"
)

func TestMemoryLimitFlag(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "")

	var f memLimitFlag
	fl := pflag.NewFlagSet("t", pflag.ContinueOnError)
	f.register(fl)
	f.apply(slog.Default())
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("default limit %d, want %d", got, defaultMemoryLimit)
	}
	if err := fl.Parse([]string{"--memory-limit", "200MiB"}); err != nil {
		t.Fatal(err)
	}
	f.apply(slog.Default())
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("--memory-limit 200MiB set %d", got)
	}
	debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "1GiB") // the runtime read it at start; the flag must not override it
	f.apply(slog.Default())
	if got := debug.SetMemoryLimit(-1); got != old {
		t.Errorf("with GOMEMLIMIT set the flag changed the limit to %d", got)
	}
}
