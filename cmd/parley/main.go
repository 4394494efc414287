// Command parley is the Parley messenger: run a node (parley up, parley
// daemon) and talk to it (parley send, history, tail, groups, ...).
package main

import (
	"os"

	"github.com/parley-chat/parley/cmd/parley/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
