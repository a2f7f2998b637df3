// Command branchline runs a Branchline node or hub member, administers a
// cluster, runs a local demo and benchmarks. It only parses flags and wires
// parts together; the work happens in the packages it starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	// Time windows (roles, blacklist, queues) are in Asia/Shanghai by
	// default: embed the zone database for machines without one.
	_ "time/tzdata"

	"branchline/replication"
	"branchline/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "branchline:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `Usage: branchline <command> [flags]

Commands:
  node    run a branch or warehouse node
  hub     run a hub member (Raft cluster at head office)
  ctl     administer a hub cluster: register nodes, show status
  demo    run a hub of three members and two nodes on this machine, with sample data
  bench   measure replication (sync), pickup dispatch and warehouse stock
  version print the release, the commit it was built from and the protocol version

Run "branchline <command> --help" for a command's flags. Every flag can also
be set as an environment variable: --hub-url is BRANCHLINE_HUB_URL.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"node":  runNode,
		"hub":   runHub,
		"ctl":   runCtl,
		"demo":  runDemo,
		"bench": runBench,
		"version": func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "branchline %s\ncommit %s\nprotocol %d (serves %d to %d)\n",
				version.String(), version.Commit(), replication.Protocol, replication.MinProtocol, replication.Protocol)
			return nil
		},
	}
	switch args[0] {
	case "--version":
		args[0] = "version"
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlagSet returns a flag set whose usage goes to stderr, headed by
// summary.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: branchline %s\n\n%s\n\nFlags (each also as BRANCHLINE_<FLAG> in the environment):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from its BRANCHLINE_* environment variable.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s: %v", env, e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return "BRANCHLINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newLogger returns a text or JSON slog logger at level.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("log format %q: want text or json", format)
}

func logFlags(fs *flag.FlagSet) (level, format *string) {
	return fs.String("log-level", "info", "log level: debug, info, warn, error"),
		fs.String("log-format", "text", "log format: text or json")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

// sizeFlag is a byte size given as a number with an optional unit (KiB,
// MiB, GiB, or KB, MB, GB): "512MiB", "2GB", "0", "-1".
type sizeFlag struct{ n int64 }

func (s *sizeFlag) String() string { return strconv.FormatInt(s.n, 10) }

func (s *sizeFlag) Set(v string) error {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a size such as 512MiB", v)
	}
	s.n = n * mult
	return nil
}

// safetyFlags are the flags node and hub share for clocks and disk space.
func safetyFlags(fs *flag.FlagSet, reserveDoc string) (*time.Duration, *sizeFlag) {
	offset := fs.Duration("max-clock-offset", replication.DefaultMaxOffset,
		"how far ahead of this machine's clock an event's stamp may be (hub: accepted; node: followed by its clock); the same on every node and hub member")
	reserve := &sizeFlag{}
	fs.Var(reserve, "min-free-disk", "free space kept on the data volume: writes are refused below it (0: "+reserveDoc+"; -1: never refuse)")
	return offset, reserve
}
