package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// errBatchQuote is a line whose double quote is never closed.
var errBatchQuote = errors.New("unterminated quoted string")

// maxBatchLine bounds one command line of a batch (continuations joined).
const maxBatchLine = 1 << 20

// readBatch reads commands from r the way ip -batch does and calls run
// with each command's first line number and its words, until run returns
// false or the input ends. A line ending in a backslash continues on the
// next; words are separated by spaces and tabs; a word starting with "#"
// ends the line (a comment); "double quotes" make one word of what they
// hold. Lines without words are skipped. A malformed line (an unclosed
// quote, an over-long line) ends the batch with an error that names it.
func readBatch(r io.Reader, run func(line int, args []string) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxBatchLine)
	lineNo, start := 0, 0
	var cmd strings.Builder
	for sc.Scan() {
		lineNo++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if cmd.Len() == 0 {
			start = lineNo
		}
		if strings.HasSuffix(text, "\\") {
			cmd.WriteString(strings.TrimSuffix(text, "\\"))
			cmd.WriteByte(' ')
			if cmd.Len() > maxBatchLine {
				return batchLineError(start, errors.New("command too long"))
			}
			continue
		}
		cmd.WriteString(text)
		args, err := splitBatchLine(cmd.String())
		cmd.Reset()
		if err != nil {
			return batchLineError(start, err)
		}
		if len(args) == 0 {
			continue
		}
		if !run(start, args) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return batchLineError(lineNo+1, err)
	}
	if cmd.Len() > 0 { // the last line ended in a backslash
		args, err := splitBatchLine(cmd.String())
		if err != nil {
			return batchLineError(start, err)
		}
		if len(args) > 0 {
			run(start, args)
		}
	}
	return nil
}

// splitBatchLine splits one command line into words (see readBatch).
func splitBatchLine(line string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) || line[i] == '#' {
			return args, nil
		}
		var w strings.Builder
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] != '"' {
				w.WriteByte(line[i])
				i++
				continue
			}
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				return nil, errBatchQuote
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 2
		}
		args = append(args, w.String())
	}
}

func batchLineError(line int, err error) error { return fmt.Errorf("line %d: %w", line, err) }
