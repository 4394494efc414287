package cli

// File commands: file send, file get, files. With a running node they go
// through its API (the node reads and writes the paths: same machine);
// without one they run a node in this process for the command's duration.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// fileFlags are the node's file settings (daemon and up).
type fileFlags struct {
	auto  sizeValue
	limit sizeValue
}

func (f *fileFlags) register(fl *pflag.FlagSet) {
	f.auto = sizeValue(node.DefaultAutoDownload)
	fl.Var(&f.auto, "auto-download", "fetch announced files up to this size by themselves (e.g. 10MB; 0 turns it off)")
	fl.Var(&f.limit, "file-limit", "cap on the bytes of files this profile keeps (e.g. 20GB; 0: no limit beyond the disk)")
}

func (f *fileFlags) options() []node.Option {
	return []node.Option{node.WithAutoDownload(int64(f.auto)), node.WithFileLimit(int64(f.limit))}
}

// sizeValue is a byte count flag taking suffixes (KB, MB, GB, KiB, MiB, GiB).
type sizeValue int64

func (v *sizeValue) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *sizeValue) Type() string   { return "size" }
func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (e.g. 500MB, 2GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

// fileOps is what the file commands need, from the API or a node here.
type fileOps interface {
	send(ctx context.Context, group, path string) (node.Message, error)
	start(ctx context.Context, group, id string) error // begins a fetch
	file(ctx context.Context, group, id string) (node.FileInfo, error)
	save(ctx context.Context, group, id, path string) error
	list(ctx context.Context, group string) ([]node.FileInfo, error)
}

type apiFiles struct{ c *api.Client }

func (f apiFiles) send(ctx context.Context, g, p string) (node.Message, error) {
	return f.c.SendFile(ctx, g, p)
}
func (f apiFiles) start(ctx context.Context, g, id string) error {
	_, err := f.c.FetchFile(ctx, g, id, false)
	return err
}
func (f apiFiles) file(ctx context.Context, g, id string) (node.FileInfo, error) {
	return f.c.File(ctx, g, id)
}
func (f apiFiles) save(ctx context.Context, g, id, p string) error {
	return f.c.SaveFile(ctx, g, id, p)
}
func (f apiFiles) list(ctx context.Context, g string) ([]node.FileInfo, error) {
	return f.c.Files(ctx, g)
}

type nodeFiles struct {
	n    *node.Node
	errc chan error
}

func (f *nodeFiles) send(ctx context.Context, g, p string) (node.Message, error) {
	return f.n.SendFile(ctx, g, p)
}
func (f *nodeFiles) start(ctx context.Context, g, id string) error {
	f.errc = make(chan error, 1)
	go func() { f.errc <- f.n.FetchFile(ctx, g, id) }()
	select { // an error found at once (no such file, over the limit)
	case err := <-f.errc:
		f.errc <- err
		return err
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}
func (f *nodeFiles) file(_ context.Context, g, id string) (node.FileInfo, error) {
	select {
	case err := <-f.errc:
		f.errc <- err
		if err != nil {
			return node.FileInfo{}, err
		}
	default:
	}
	fs, err := f.n.Files(g)
	if err != nil {
		return node.FileInfo{}, err
	}
	for _, fi := range fs {
		if fi.ID == id || len(id) >= 6 && strings.HasPrefix(fi.ID, strings.ToLower(id)) {
			return fi, nil
		}
	}
	return node.FileInfo{}, fmt.Errorf("%w: %q", node.ErrNoSuchFile, id)
}
func (f *nodeFiles) save(_ context.Context, g, id, p string) error { return f.n.SaveFile(g, id, p) }
func (f *nodeFiles) list(_ context.Context, g string) ([]node.FileInfo, error) {
	return f.n.Files(g)
}

// withFiles runs fn against the running node, or a node started here.
func (a *app) withFiles(ctx context.Context, fn func(ctx context.Context, f fileOps) error) error {
	c, err := a.client()
	if err == nil {
		err = fn(ctx, apiFiles{c})
	}
	if !errors.Is(err, api.ErrNotRunning) {
		return err
	}
	log, err := a.logger(slog.LevelWarn)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "(no node running: starting one for this command)")
	f := nodeFlags{mdns: true}
	return a.runNode(ctx, log, f, func(ctx context.Context, n *node.Node) error {
		return fn(ctx, &nodeFiles{n: n})
	})
}

func (a *app) fileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "file", Short: "Send and fetch files (parley files GROUP lists them)"}
	cmd.AddCommand(a.fileSendCmd(), a.fileGetCmd())
	return cmd
}

func (a *app) fileSendCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "send GROUP PATH",
		Short: "Send a file to a group (kept encrypted under the profile and served to members)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := filepath.Abs(args[1])
			if err != nil {
				return err
			}
			return a.withFiles(cmd.Context(), func(ctx context.Context, f fileOps) error {
				m, err := f.send(ctx, args[0], path)
				if err != nil {
					return err
				}
				if _, here := f.(*nodeFiles); here {
					fmt.Fprintln(a.stderr, "note: members fetch the file from nodes that hold it; run `parley daemon` (or `up`) to keep serving it")
				}
				if asJSON {
					return a.printJSON(m)
				}
				fmt.Fprintf(a.stdout, "%s\t%s\t%s\n", m.ID, termtext.OneLine(m.File.Name), humanBytes(m.File.Size))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the announcement as JSON")
	return cmd
}

func (a *app) fileGetCmd() *cobra.Command {
	var (
		out    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "get GROUP ID",
		Short: "Fetch a file from the members who have it and save it (--out PATH)",
		Long: `Fetch a file from the members who hold it (several at once), resuming from
what is already stored, and save it to --out (default: its name in the current
directory). On a terminal a progress bar shows bytes, speed and time left.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			group, id := args[0], args[1]
			return a.withFiles(cmd.Context(), func(ctx context.Context, f fileOps) error {
				if err := f.start(ctx, group, id); err != nil {
					return err
				}
				fi, err := a.followFetch(ctx, f, group, id)
				if err != nil {
					return err
				}
				dest := out
				if dest == "" {
					dest = safeName(fi.Name)
				}
				if dest, err = filepath.Abs(dest); err != nil {
					return err
				}
				if err := f.save(ctx, group, fi.ID, dest); err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(fi)
				}
				fmt.Fprintf(a.stderr, "saved %s (%s, content hash %s)\n", termtext.OneLine(dest), humanBytes(fi.Size), fi.Hash)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "where to save the file (a path or a directory)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the file's state as JSON when done")
	return cmd
}

// safeName is an announced name fit to create in the current directory.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == ".." || name == "/" || name == "" {
		return "parley-file"
	}
	return name
}

// followFetch shows progress until the file is complete or failed.
func (a *app) followFetch(ctx context.Context, f fileOps, group, id string) (node.FileInfo, error) {
	tty := isTerminal(a.stderr)
	lastLine := time.Time{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		fi, err := f.file(ctx, group, id)
		if err != nil {
			if tty {
				fmt.Fprintln(a.stderr)
			}
			return fi, err
		}
		switch fi.State {
		case "complete":
			if tty {
				fmt.Fprintf(a.stderr, "\r%s\n", progressLine(fi, 30))
			}
			return fi, nil
		case "failed":
			return fi, fmt.Errorf("%w: %s", node.ErrFileCorrupt, fi.Name)
		}
		if tty {
			fmt.Fprintf(a.stderr, "\r%s", progressLine(fi, 30))
		} else if time.Since(lastLine) >= 2*time.Second {
			fmt.Fprintln(a.stderr, progressLine(fi, 0))
			lastLine = time.Now()
		}
		select {
		case <-ctx.Done():
			return fi, ctx.Err()
		case <-tick.C:
		}
	}
}

// progressLine is "[#####.....] 45% 12.0 MB/120 MB 8.1 MB/s ETA 13s"; bar
// 0 leaves the bar out (plain output).
func progressLine(fi node.FileInfo, bar int) string {
	pct := 100.0
	if fi.Size > 0 {
		pct = float64(fi.Done) * 100 / float64(fi.Size)
	}
	var b strings.Builder
	if bar > 0 {
		n := int(pct / 100 * float64(bar))
		b.WriteString("[" + strings.Repeat("#", n) + strings.Repeat(".", bar-n) + "] ")
	}
	fmt.Fprintf(&b, "%3.0f%% %s/%s", pct, humanBytes(fi.Done), humanBytes(fi.Size))
	if fi.Speed > 0 {
		fmt.Fprintf(&b, " %s/s", humanBytes(uint64(fi.Speed)))
	}
	if fi.ETA > 0 {
		fmt.Fprintf(&b, " ETA %s", (time.Duration(fi.ETA) * time.Second).Round(time.Second))
	}
	if fi.Sources > 0 {
		fmt.Fprintf(&b, " from %d", fi.Sources)
	}
	if fi.DiskFull {
		b.WriteString(" paused, " + termtext.OneLine(fi.Error) + " (resumes when space is freed)")
	}
	return b.String() + "   "
}

func humanBytes(n uint64) string {
	const u = 1000
	if n < u {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= u && i < 4 {
		f /= u
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, " kMGT"[i])
}

func (a *app) filesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "files GROUP",
		Short: "List a group's files: id, name, size, state, progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withFiles(cmd.Context(), func(ctx context.Context, f fileOps) error {
				fs, err := f.list(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					if fs == nil {
						fs = []node.FileInfo{}
					}
					return a.printJSON(fs)
				}
				return printFiles(a.stdout, fs)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printFiles(w io.Writer, fs []node.FileInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSIZE\tSTATE\tDONE\tSHA256")
	for _, f := range fs {
		done := "100%"
		if f.Size > 0 {
			done = fmt.Sprintf("%.0f%%", float64(f.Done)*100/float64(f.Size))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID[:12], termtext.OneLine(f.Name), humanBytes(f.Size), f.State, done, f.Hash[:16])
	}
	return tw.Flush()
}

var _ chatcmd.FileFront = (*lineFront)(nil)

// SendFile is the line chat's /file PATH.
func (f *lineFront) SendFile(path string) error {
	if f.c.current == "" {
		return errNoGroup
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	m, err := f.c.n.SendFile(f.ctx, f.c.current, path)
	if err != nil {
		return err
	}
	f.c.printf("sent %s (%s), id %s\n", termtext.OneLine(m.File.Name), humanBytes(m.File.Size), m.ID)
	return nil
}
