// Package errs holds the control plane's sentinel errors. Packages wrap
// them with short lowercase context (fmt.Errorf("route 10.0.0.0/8: %w",
// errs.ErrExists)); the API carries the sentinel's code so fpctl can print
// the message iproute2 would ("RTNETLINK answers: File exists").
//
// Nothing on the packet path returns an error: drops are counted reasons.
package errs
