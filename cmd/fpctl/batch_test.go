package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type batchCmd struct {
	line int
	args []string
}

func readAll(t *testing.T, text string) ([]batchCmd, error) {
	t.Helper()
	var got []batchCmd
	err := readBatch(strings.NewReader(text), func(line int, args []string) bool {
		got = append(got, batchCmd{line, args})
		return true
	})
	return got, err
}

func TestReadBatch(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []batchCmd
		err      error
	}{
		{"plain", "route add 10.0.0.0/8 dev x\nlink show\n",
			[]batchCmd{{1, []string{"route", "add", "10.0.0.0/8", "dev", "x"}}, {2, []string{"link", "show"}}}, nil},
		{"blank lines and comments", "\n# all comment\n  \t\nroute show # the rest\n",
			[]batchCmd{{4, []string{"route", "show"}}}, nil},
		{"a word with # inside is a word", "link add a#b type dummy\n",
			[]batchCmd{{1, []string{"link", "add", "a#b", "type", "dummy"}}}, nil},
		{"continuation", "route add 10.0.0.0/8 \\\n  via 10.1.1.1 \\\n dev x\nlink show\n",
			[]batchCmd{{1, []string{"route", "add", "10.0.0.0/8", "via", "10.1.1.1", "dev", "x"}}, {4, []string{"link", "show"}}}, nil},
		{"continuation at the end", "link show \\\n",
			[]batchCmd{{1, []string{"link", "show"}}}, nil},
		{"quotes", "link add \"a b\" type dummy\nx\"y z\"w\n",
			[]batchCmd{{1, []string{"link", "add", "a b", "type", "dummy"}}, {2, []string{"xy zw"}}}, nil},
		{"empty quotes are a word", "link set \"\" up\n",
			[]batchCmd{{1, []string{"link", "set", "", "up"}}}, nil},
		{"CRLF", "link show\r\nroute show\r\n",
			[]batchCmd{{1, []string{"link", "show"}}, {2, []string{"route", "show"}}}, nil},
		{"no final newline", "link show",
			[]batchCmd{{1, []string{"link", "show"}}}, nil},
		{"unclosed quote ends the batch", "link show\nlink add \"x type dummy\nroute show\n",
			[]batchCmd{{1, []string{"link", "show"}}}, errBatchQuote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// run returning false stops the batch.
	n := 0
	if err := readBatch(strings.NewReader("a\nb\nc\n"), func(int, []string) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Fatalf("stop after the second: ran %d, err %v", n, err)
	}
	// A line over the bound is an error naming it, not a panic.
	if _, err := readAll(t, "link show\n"+strings.Repeat("x", maxBatchLine+1)+"\n"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("over-long line: %v", err)
	}
}

// FuzzBatch: any input either fails with an error or yields commands whose
// words came from the input, numbered by increasing lines; never a panic.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{"route add 10.0.0.0/8 dev x\n", "a \\\nb\n", "\"a b\" c # d\n", "\"", "\\", "#\n\n\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		last := 0
		lines := strings.Count(in, "\n") + 1
		_ = readBatch(strings.NewReader(in), func(line int, args []string) bool {
			if line <= last || line > lines {
				t.Fatalf("line %d after %d (input has %d lines)", line, last, lines)
			}
			last = line
			if len(args) == 0 {
				t.Fatal("a command without words")
			}
			for _, a := range args {
				if strings.ContainsAny(a, "\n\"") {
					t.Fatalf("word %q holds a newline or a quote", a)
				}
			}
			return true
		})
	})
}

// Against the real daemon: a batch stops at its first failure (what ran
// before stays), says where, and exits 1; with -force it runs every line.
func TestBatchAgainstRealDaemon(t *testing.T) {
	fp := realDaemon(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "cmds")
	text := `# two dummies and their routes
link add u1 type dummy
link set u1 up
addr add 10.100.0.1/24 dev u1
route add 10.1.0.0/16 via 10.100.0.2 \
	dev u1
route add 10.1.0.0/16 via 10.100.0.2
route add 10.2.0.0/16 via 10.100.0.2
`
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, st := fp("-batch", file)
	if st != 1 || !strings.Contains(errs, "RTNETLINK answers: File exists") || !strings.HasSuffix(errs, "Command failed "+file+":7\n") {
		t.Fatalf("status %d, stderr %q, stdout %q", st, errs, out)
	}
	routes, _, _ := fp("route", "show")
	if !strings.Contains(routes, "10.1.0.0/16 via 10.100.0.2 dev u1") || strings.Contains(routes, "10.2.0.0/16") {
		t.Fatalf("after the failed batch:\n%s", routes)
	}
	// Again with -force: what exists already fails (link set up does
	// not), and the last line runs.
	_, errs, st = fp("-force", "-batch", file)
	var failed []string
	for _, l := range strings.Split(errs, "\n") {
		if strings.HasPrefix(l, "Command failed ") {
			failed = append(failed, strings.TrimPrefix(l, "Command failed "+file+":"))
		}
	}
	if st != 1 || strings.Join(failed, " ") != "2 4 5 7" {
		t.Fatalf("-force: status %d, failed lines %q, stderr %q", st, failed, errs)
	}
	if routes, _, _ = fp("route", "show"); !strings.Contains(routes, "10.2.0.0/16 via 10.100.0.2 dev u1") {
		t.Fatalf("after -force:\n%s", routes)
	}
	// A clean batch exits 0; shows print as they would alone.
	if err := os.WriteFile(file, []byte("route del 10.2.0.0/16\nroute show 10.1.0.0/16\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, st = fp("-b", file); st != 0 || out != "10.1.0.0/16 via 10.100.0.2 dev u1 \n" {
		t.Fatalf("status %d, stdout %q, stderr %q", st, out, errs)
	}
	if _, errs, st = fp("-batch", file, "link", "show"); st != 255 || !strings.Contains(errs, "no command after it") {
		t.Fatalf("batch and a command: status %d, stderr %q", st, errs)
	}
	if _, errs, st = fp("-batch", filepath.Join(dir, "none")); st != 1 || !strings.Contains(errs, "Cannot open file") {
		t.Fatalf("missing file: status %d, stderr %q", st, errs)
	}
}
