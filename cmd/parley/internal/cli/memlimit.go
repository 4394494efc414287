package cli

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/parley-chat/parley/node"
)

// defaultMemoryLimit: see node.DefaultMemoryLimit.
const defaultMemoryLimit = node.DefaultMemoryLimit

// memLimitFlag is --memory-limit (daemon, up, relay).
type memLimitFlag struct{ v sizeValue }

func (f *memLimitFlag) register(fl *pflag.FlagSet) {
	f.v = defaultMemoryLimit
	fl.Var(&f.v, "memory-limit", "soft limit on the node's memory (Go runtime; 0: none); $GOMEMLIMIT, when set, wins")
}

// apply sets the limit unless GOMEMLIMIT is set (the runtime read it).
func (f *memLimitFlag) apply(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || f.v <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(f.v))
	log.Debug("memory limit", "bytes", int64(f.v))
}
