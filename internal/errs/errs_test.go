package errs

import (
	"fmt"
	"testing"
)

func TestCodeRoundTrip(t *testing.T) {
	for _, c := range codes {
		wrapped := fmt.Errorf("route 10.0.0.0/8: %w", c.err)
		if got := Code(wrapped); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", wrapped, got, c.code)
		}
		if FromCode(c.code) != c.err {
			t.Errorf("FromCode(%q) is not the sentinel", c.code)
		}
	}
	if Code(fmt.Errorf("plain")) != "" || FromCode("EWHATEVER") != nil {
		t.Error("unknown errors must map to nothing")
	}
}
