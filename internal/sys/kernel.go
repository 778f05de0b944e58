package sys

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelAtLeast reports whether the running kernel's release is at least
// major.minor. An unreadable or unparsable release counts as older: the
// callers use it to turn on features that old kernels reject.
func KernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), major, minor)
}

// releaseAtLeast compares a release string ("6.18.44-fc-v1272") with
// major.minor.
func releaseAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi := parts[1]
	if i := strings.IndexFunc(mi, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mi = mi[:i]
	}
	mn, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mn >= minor)
}
