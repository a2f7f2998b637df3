package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		inOutput string
	}{
		{"no command", nil, 2, "Usage: branchline <command>"},
		{"unknown command", []string{"frobnicate"}, 2, "Usage: branchline <command>"},
		{"help", []string{"--help"}, 0, "Commands:"},
		{"node help", []string{"node", "--help"}, 0, "BRANCHLINE_<FLAG>"},
		{"hub help", []string{"hub", "--help"}, 0, "--bootstrap"},
		{"ctl help", []string{"ctl", "--help"}, 0, "nodes add ID"},
		{"demo help", []string{"demo", "--help"}, 0, "port-base"},
		{"bench help", []string{"bench", "--help"}, 0, "bench"},
		{"node without id", []string{"node", "--data", "/tmp/x"}, 2, "--id and --data are required"},
		{"hub bootstrap and join", []string{"hub", "--id", "h", "--data", "/tmp/x", "--bootstrap", "--join", "http://x"}, 2, ""},
		{"bad flag", []string{"node", "--no-such-flag"}, 2, "no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errb)
			if got := exitCode(err); err != nil && got != tc.code || err == nil && tc.code != 0 {
				t.Fatalf("exit code %d (err %v), want %d", got, err, tc.code)
			}
			all := out.String() + errb.String()
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				all += err.Error()
			}
			if !strings.Contains(all, tc.inOutput) {
				t.Fatalf("output lacks %q:\n%s", tc.inOutput, all)
			}
		})
	}
}

func TestEnvFallback(t *testing.T) {
	t.Setenv("BRANCHLINE_HUB_URL", "http://from-env")
	t.Setenv("BRANCHLINE_COUNT", "not-a-number")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	hub := fs.String("hub-url", "default", "")
	if err := parse(fs, nil); err == nil {
		// count is not defined: only defined flags are read from the environment
		if *hub != "http://from-env" {
			t.Fatalf("hub-url = %q, want the environment's", *hub)
		}
	} else {
		t.Fatal(err)
	}
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	hub2 := fs2.String("hub-url", "default", "")
	if err := parse(fs2, []string{"--hub-url", "http://from-flag"}); err != nil || *hub2 != "http://from-flag" {
		t.Fatalf("a flag must win over the environment: %q, %v", *hub2, err)
	}
	fs3 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs3.Int("count", 1, "")
	if err := parse(fs3, nil); exitCode(err) != 2 || !strings.Contains(err.Error(), "BRANCHLINE_COUNT") {
		t.Fatalf("bad environment value: %v", err)
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" http://a/ ,,http://b ")
	if len(got) != 2 || got[0] != "http://a" || got[1] != "http://b" {
		t.Fatalf("splitList = %q", got)
	}
}
