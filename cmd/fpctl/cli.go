package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"flowpath/api"
)

// options are the global options, which come before the object as in ip.
type options struct {
	family  int // 4, 6 or 0
	json    bool
	pretty  bool
	stats   int
	details bool
	socket  string
	// batch names a file of commands, one per line ("-": standard input);
	// force goes on after a failed one (ip -batch FILE [-force]).
	batch string
	force bool
}

// parseOptions consumes the leading options of argv, iproute2 style:
// "-x" and "--x" alike, long names abbreviable ("-stat"), "--" ends them.
func parseOptions(argv []string) (*options, []string, error) {
	o := &options{socket: os.Getenv("FLOWPATH_SOCKET")}
	if o.socket == "" {
		o.socket = api.DefaultSocket
	}
	for len(argv) > 0 && strings.HasPrefix(argv[0], "-") {
		opt := argv[0]
		argv = argv[1:]
		if opt == "--" {
			break
		}
		if strings.HasPrefix(opt, "--") {
			opt = opt[1:]
		}
		name, value, hasValue := strings.Cut(opt, "=")
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if len(argv) == 0 {
				return "", errf(255, "Option %q requires an argument.", name)
			}
			v := argv[0]
			argv = argv[1:]
			return v, nil
		}
		switch {
		case name == "-4":
			o.family = 4
		case name == "-6":
			o.family = 6
		case name == "-M":
			o.family = api.FamilyMPLS
		case name == "-":
			return nil, nil, errf(255, "Option %q is unknown, try \"fpctl -help\".", opt)
		case matches(name, "-family"):
			v, err := takeValue()
			if err != nil {
				return nil, nil, err
			}
			switch v {
			case "inet", "ipv4", "4":
				o.family = 4
			case "inet6", "ipv6", "6":
				o.family = 6
			case "mpls":
				o.family = api.FamilyMPLS
			default:
				return nil, nil, errf(255, "Error: argument %q is wrong: invalid protocol family", v)
			}
		case matches(name, "-statistics") || matches(name, "-stats"):
			o.stats++
		case matches(name, "-details"):
			o.details = true
		case matches(name, "-json"):
			o.json = true
		case matches(name, "-pretty"):
			o.pretty = true
		case matches(name, "-socket") && len(name) > 2:
			v, err := takeValue()
			if err != nil {
				return nil, nil, err
			}
			o.socket = v
		case matches(name, "-batch"):
			v, err := takeValue()
			if err != nil {
				return nil, nil, err
			}
			o.batch = v
		case matches(name, "-force") && len(name) > 2:
			o.force = true
		case matches(name, "-help"):
			return o, []string{"help"}, nil
		default:
			return nil, nil, errf(255, "Option %q is unknown, try \"fpctl -help\".", opt)
		}
		if hasValue && !(matches(name, "-socket") || matches(name, "-family") || matches(name, "-batch")) {
			return nil, nil, errf(255, "Option %q takes no argument.", name)
		}
	}
	return o, argv, nil
}

// app is one run of fpctl.
type app struct {
	opts   *options
	stdout io.Writer
	stderr io.Writer
}

// run is fpctl: it returns the exit status.
func run(argv []string, stdout, stderr io.Writer) int {
	opts, rest, err := parseOptions(argv)
	if err != nil {
		return report(stderr, err)
	}
	if opts.batch != "" {
		if len(rest) > 0 {
			return report(stderr, errf(255, "Error: -batch reads its commands from %q: no command after it, please.", opts.batch))
		}
		return runBatch(opts, stdout, stderr)
	}
	return runOne(opts, rest, stdout, stderr)
}

// runOne runs one command (OBJECT COMMAND ARGS) with the global options.
func runOne(opts *options, rest []string, stdout, stderr io.Writer) int {
	// "fpctl bridge fdb ..." is bridge(8)'s spelling of "fpctl fdb ...".
	if len(rest) > 1 && rest[0] == "bridge" && matches(rest[1], "fdb") {
		rest = rest[1:]
	}
	a := &app{opts: opts, stdout: stdout, stderr: stderr}
	root := a.commands()
	root.SetArgs(rest)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		return report(stderr, err)
	}
	return 0
}

// runBatch runs the commands of opts.batch, one per line, as ip -batch
// does: blank lines and words from "#" on are skipped, a line ending in
// "\" goes on on the next, "double quotes" keep spaces in a word. Each
// command is a request of its own, so what succeeded before a failure
// stays applied. A failure prints its error and "Command failed FILE:LINE"
// and ends the batch (exit 1), unless -force: then every line runs and
// the exit status is 1 if any failed.
func runBatch(opts *options, stdout, stderr io.Writer) int {
	in := io.Reader(os.Stdin)
	if opts.batch != "-" {
		f, err := os.Open(opts.batch)
		if err != nil {
			return report(stderr, errf(1, "Cannot open file %q for reading: %v", opts.batch, unwrapOp(err)))
		}
		defer f.Close()
		in = f
	}
	status := 0
	err := readBatch(in, func(line int, args []string) bool {
		if runOne(opts, args, stdout, stderr) == 0 {
			return true
		}
		fmt.Fprintf(stderr, "Command failed %s:%d\n", opts.batch, line)
		status = 1
		return opts.force
	})
	if err != nil {
		return report(stderr, errf(1, "fpctl: reading %s: %v", opts.batch, err))
	}
	return status
}

// report prints err and returns its exit status.
func report(w io.Writer, err error) int {
	var ce *cliError
	if errors.As(err, &ce) {
		msg := ce.msg
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		fmt.Fprint(w, msg)
		return ce.status
	}
	fmt.Fprintf(w, "fpctl: %v\n", err)
	return 1
}

// Objects and commands with the abbreviations iproute2 accepts. Order
// matters: an abbreviation belongs to the first word it abbreviates (in
// ip, "r" is route, not rule, and "s" is link set, not link show).
type word struct {
	name  string   // canonical
	forms []string // full words that name it; each abbreviable
	exact []string // words accepted only in full
}

var objects = []word{
	{name: "address", forms: []string{"address"}},
	{name: "route", forms: []string{"route"}},
	{name: "rule", forms: []string{"rule"}},
	{name: "neighbour", forms: []string{"neighbor", "neighbour"}},
	{name: "link", forms: []string{"link"}},
	{name: "stats", exact: []string{"st", "sta", "stat"}},
	{name: "fdb", forms: []string{"fdb"}},
	{name: "sysctl", exact: []string{"sysctl"}},
}

var commandWords = map[string][]word{
	"link": {
		{name: "add", forms: []string{"add"}},
		{name: "set", forms: []string{"set", "change"}},
		{name: "delete", forms: []string{"delete"}},
		{name: "show", forms: []string{"show", "lst", "list"}},
	},
	"address": {
		{name: "add", forms: []string{"add"}},
		{name: "delete", forms: []string{"delete"}},
		{name: "show", forms: []string{"list", "show", "lst"}},
		{name: "flush", forms: []string{"flush"}},
	},
	"route": {
		{name: "add", forms: []string{"add"}},
		{name: "change", forms: []string{"change"}, exact: []string{"chg"}},
		{name: "replace", forms: []string{"replace"}},
		{name: "prepend", forms: []string{"prepend"}},
		{name: "append", forms: []string{"append"}},
		{name: "delete", forms: []string{"delete"}},
		{name: "show", forms: []string{"list", "show", "lst"}},
		{name: "get", forms: []string{"get"}},
		{name: "flush", forms: []string{"flush"}},
	},
	"rule": {
		{name: "show", forms: []string{"list", "lst", "show"}},
		{name: "add", forms: []string{"add"}},
		{name: "delete", forms: []string{"delete"}},
	},
	"neighbour": {
		{name: "add", forms: []string{"add"}},
		{name: "change", forms: []string{"change"}, exact: []string{"chg"}},
		{name: "replace", forms: []string{"replace"}},
		{name: "delete", forms: []string{"delete"}},
		{name: "show", forms: []string{"show", "list", "lst"}},
		{name: "flush", forms: []string{"flush"}},
	},
	"stats": {
		{name: "show", forms: []string{"show", "list", "lst"}},
	},
	// bridge fdb's commands, in its order.
	"fdb": {
		{name: "add", forms: []string{"add"}},
		{name: "append", forms: []string{"append"}},
		{name: "replace", forms: []string{"replace"}},
		{name: "delete", forms: []string{"delete"}},
		{name: "show", forms: []string{"show", "list", "lst"}},
	},
}

// aliases gives each word the abbreviations not taken by an earlier one.
func aliases(words []word) map[string][]string {
	taken := map[string]bool{}
	out := map[string][]string{}
	for _, w := range words {
		for _, f := range w.forms {
			for n := 1; n <= len(f); n++ {
				ab := f[:n]
				if taken[ab] {
					continue
				}
				taken[ab] = true
				if ab != w.name {
					out[w.name] = append(out[w.name], ab)
				}
			}
		}
		for _, e := range w.exact {
			if !taken[e] {
				taken[e] = true
				out[w.name] = append(out[w.name], e)
			}
		}
	}
	return out
}

// commands builds the cobra tree: objects, then their commands, each
// leaf handing its raw arguments to the hand-written grammar (iproute2
// arguments may look like flags).
func (a *app) commands() *cobra.Command {
	root := &cobra.Command{
		Use:   "fpctl [OPTIONS] OBJECT {COMMAND | help}",
		Short: "configure flowpathd with iproute2's grammar",
		Long:  usage["fpctl"],
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("fpctl")
			}
			return errf(255, "Object %q is unknown, try \"fpctl help\".", args[0])
		},
		SilenceErrors:      true,
		SilenceUsage:       true,
		DisableFlagParsing: true,
		CompletionOptions:  cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		text := c.Long
		if text == "" {
			text = usage["fpctl"]
		}
		fmt.Fprint(a.stdout, text)
	})
	objAliases := aliases(objects)
	for _, o := range objects {
		object := o.name
		oc := &cobra.Command{
			Use:                object,
			Aliases:            objAliases[object],
			Long:               usage[object],
			Args:               cobra.ArbitraryArgs,
			DisableFlagParsing: true,
			SilenceErrors:      true,
			SilenceUsage:       true,
			RunE: func(_ *cobra.Command, args []string) error {
				if len(args) == 0 {
					return a.exec(object, "show", nil)
				}
				if args[0] == "help" {
					fmt.Fprint(a.stdout, usage[object])
					return nil
				}
				if object == "stats" || object == "sysctl" {
					return a.exec(object, "show", args)
				}
				return unknownCommand(object, args[0])
			},
		}
		words := commandWords[object]
		cmdAliases := aliases(words)
		for _, w := range words {
			command := w.name
			oc.AddCommand(&cobra.Command{
				Use:                command,
				Aliases:            cmdAliases[command],
				Long:               usage[object],
				Args:               cobra.ArbitraryArgs,
				DisableFlagParsing: true,
				SilenceErrors:      true,
				SilenceUsage:       true,
				RunE: func(_ *cobra.Command, args []string) error {
					if len(args) == 1 && args[0] == "help" {
						fmt.Fprint(a.stdout, usage[object])
						return nil
					}
					return a.exec(object, command, args)
				},
			})
		}
		root.AddCommand(oc)
	}
	return root
}

// exec builds the request, sends it and prints the answer.
func (a *app) exec(object, command string, argv []string) error {
	req, err := BuildRequest(object, command, argv, a.opts.family)
	if err != nil {
		return err
	}
	if w := warning(req); w != "" {
		fmt.Fprint(a.stderr, w)
	}
	// "nud all" is fpctl's: the daemon gets no state (every state), and
	// the printer does not hide NOARP entries.
	showNoarp := false
	if req.Filter != nil && req.Filter.State == "all" {
		req.Filter.State, showNoarp = "", true
	}
	c, err := api.Dial(a.opts.socket)
	if err != nil {
		return errf(1, "fpctl: cannot connect to flowpathd at %s: %v", a.opts.socket, unwrapOp(err))
	}
	defer c.Close()
	if err := checkDevices(c, req); err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return errf(1, "fpctl: %s: %v", a.opts.socket, err)
	}
	if resp.Error != "" || resp.Code != "" {
		if req.Op == api.OpSysctlSet || req.Op == api.OpSysctlShow {
			return sysctlError(resp)
		}
		if req.Op == api.OpLinkShow && req.Filter != nil && (resp.Code == "ENODEV" || resp.Code == "ENOENT") {
			return errf(1, "Device %q does not exist.", req.Filter.Dev)
		}
		return daemonError(resp)
	}
	return a.print(c, req, resp, showNoarp)
}

// sysctlError prints a refused sysctl like procps sysctl does:
// "sysctl: cannot stat /proc/sys/net/x: No such file or directory",
// "sysctl: setting key "net.mpls.default_ttl": Invalid argument".
func sysctlError(resp *api.Response) error {
	msg := resp.Error
	if text, ok := strerror[resp.Code]; ok {
		if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "setting key") {
			msg = msg[:i]
		} else if j := strings.LastIndex(strings.ToLower(msg), ": "+strings.ToLower(text)); j >= 0 {
			msg = msg[:j]
		}
		msg += ": " + text
	}
	return &cliError{msg: "sysctl: " + msg, status: 255}
}

// unwrapOp drops net.OpError's "dial unix PATH:" prefix, which repeats
// the path the message already names.
func unwrapOp(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		if _, ok := u.(interface{ Timeout() bool }); !ok {
			return u
		}
		err = u
	}
}

// daemonError prints a failure the daemon reported, as iproute2 prints
// netlink errors, and exits 2:
//
//	RTNETLINK answers: File exists
//	Error: route 10.0.0.0/8 table 254 metric 0.
//
// The first line is glibc's text for Response.Code. The second, like the
// kernel's extended ack, is Response.Error without its trailing errno
// text (the first line said it), ending in a period; it is left out when
// nothing but the errno text remains. A response without a code gets only
// the second line, with all of Response.Error.
func daemonError(resp *api.Response) error {
	var b strings.Builder
	context := resp.Error
	if resp.Code != "" {
		text, ok := strerror[resp.Code]
		if !ok {
			text = resp.Code
		}
		b.WriteString("RTNETLINK answers: " + text)
		lower := strings.ToLower(text)
		switch {
		case strings.EqualFold(context, text):
			context = ""
		case strings.HasSuffix(strings.ToLower(context), ": "+lower):
			context = context[:len(context)-len(lower)-2]
		}
	}
	if context != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("Error: " + context)
		if !strings.HasSuffix(context, ".") {
			b.WriteString(".")
		}
	}
	return &cliError{msg: b.String(), status: 2}
}

// devicesOf lists the devices a request names that must exist, as
// iproute2 resolves them before it sends anything (rules may name a
// device that does not exist yet, so they are not checked).
func devicesOf(req *api.Request) []string {
	var devs []string
	add := func(d string) {
		if d != "" {
			devs = append(devs, d)
		}
	}
	switch req.Op {
	case api.OpLinkSet, api.OpLinkDel:
		add(req.Link.Name)
	case api.OpLinkAdd:
		if req.Link.VXLAN != nil {
			add(req.Link.VXLAN.Dev)
		}
		add(req.Link.Link)
	case api.OpFDBAdd, api.OpFDBAppend, api.OpFDBReplace, api.OpFDBDel:
		add(req.FDB.Dev)
		add(req.FDB.Via)
	case api.OpAddrAdd, api.OpAddrDel:
		add(req.Addr.Dev)
	case api.OpRouteAdd, api.OpRouteReplace, api.OpRouteAppend, api.OpRoutePrepend, api.OpRouteChange, api.OpRouteDel:
		add(req.Route.Dev)
		for _, nh := range req.Route.Nexthops {
			add(nh.Dev)
		}
	case api.OpRouteGet:
		add(req.RouteGet.Iif)
		add(req.RouteGet.Oif)
	case api.OpNeighAdd, api.OpNeighReplace, api.OpNeighChange, api.OpNeighDel:
		add(req.Neigh.Dev)
	case api.OpRouteShow, api.OpRouteFlush, api.OpNeighShow, api.OpNeighFlush, api.OpAddrFlush, api.OpFDBShow:
		add(req.Filter.Dev)
	}
	return devs
}

// rejectErrors are what a route lookup ending in a reject route returns
// (the kernel's fib_props errors, as strerror words them).
var rejectErrors = map[string]string{
	"blackhole":   "Invalid argument",  // EINVAL
	"unreachable": "No route to host",  // EHOSTUNREACH
	"prohibit":    "Permission denied", // EACCES
}

// checkDevices prints iproute2's "Cannot find device" (exit 1) for a
// device the daemon does not have. If the daemon cannot list its links,
// the check is skipped and the daemon's own answer decides.
func checkDevices(c *api.Client, req *api.Request) error {
	devs := devicesOf(req)
	if req.Op == api.OpAddrShow && req.Filter.Dev != "" {
		devs = []string{req.Filter.Dev}
	}
	if len(devs) == 0 {
		return nil
	}
	resp, err := c.Do(&api.Request{Op: api.OpLinkShow})
	if err != nil {
		return errf(1, "fpctl: %v", err)
	}
	if resp.Err() != nil {
		return nil
	}
	have := map[string]bool{}
	for _, l := range resp.Links {
		have[l.Name] = true
	}
	for _, d := range devs {
		if !have[d] {
			if req.Op == api.OpAddrShow {
				return errf(1, "Device %q does not exist.", d)
			}
			return errf(1, "Cannot find device %q", d)
		}
	}
	return nil
}

// print writes the answer: nothing for a change, the objects for a show.
func (a *app) print(c *api.Client, req *api.Request, resp *api.Response, showNoarp bool) error {
	o := a.opts
	w := a.stdout
	switch req.Op {
	case api.OpLinkShow:
		if req.Filter != nil {
			// Cheap insurance: whatever the daemon sent, show the one link.
			var one []api.Link
			for _, l := range resp.Links {
				if l.Name == req.Filter.Dev {
					one = append(one, l)
				}
			}
			if len(one) == 0 {
				return errf(1, "Device %q does not exist.", req.Filter.Dev)
			}
			resp.Links = one
		}
		if o.json {
			return writeJSON(w, nonNil(resp.Links), o.pretty)
		}
		for i := range resp.Links {
			fmt.Fprint(w, FormatLink(&resp.Links[i], o.stats, o.details))
		}
	case api.OpAddrShow:
		if o.json {
			return writeJSON(w, nonNil(resp.Addrs), o.pretty)
		}
		links := resp.Links
		if len(links) == 0 {
			lr, err := c.Do(&api.Request{Op: api.OpLinkShow})
			if err != nil {
				return errf(1, "fpctl: %v", err)
			}
			links = lr.Links
		}
		fmt.Fprint(w, FormatAddrs(links, resp.Addrs, req.Filter))
	case api.OpRouteShow:
		if o.json {
			return writeJSON(w, nonNil(resp.Routes), o.pretty)
		}
		for i := range resp.Routes {
			fmt.Fprint(w, FormatRoute(&resp.Routes[i], req.Filter, o.details))
		}
	case api.OpRouteGet:
		if resp.RouteGet == nil {
			return errf(1, "fpctl: the daemon answered route get without a route")
		}
		if o.json {
			if err := writeJSON(w, []*api.RouteGetResult{resp.RouteGet}, o.pretty); err != nil {
				return err
			}
		} else {
			fmt.Fprint(w, FormatRouteGet(req.RouteGet, resp.RouteGet))
		}
		// The kernel answers a lookup that ends in a reject route with
		// the route's error (ip route get exits 2); the explanation above
		// says which route it was.
		if msg, ok := rejectErrors[resp.RouteGet.Type]; ok {
			return errf(2, "RTNETLINK answers: %s", msg)
		}
	case api.OpRuleShow:
		if o.json {
			return writeJSON(w, nonNil(resp.Rules), o.pretty)
		}
		for i := range resp.Rules {
			fmt.Fprint(w, FormatRule(&resp.Rules[i]))
		}
	case api.OpNeighShow:
		var shown []api.Neigh
		for _, n := range resp.Neighs {
			if n.State == "NOARP" && !showNoarp && req.Filter.State == "" {
				continue
			}
			shown = append(shown, n)
		}
		if o.json {
			return writeJSON(w, nonNil(shown), o.pretty)
		}
		for i := range shown {
			fmt.Fprint(w, FormatNeigh(&shown[i], req.Filter))
		}
	case api.OpFDBShow:
		if o.json {
			return writeJSON(w, nonNil(resp.FDBs), o.pretty)
		}
		for i := range resp.FDBs {
			fmt.Fprint(w, FormatFDB(&resp.FDBs[i], req.Filter))
		}
	case api.OpStats:
		if resp.Stats == nil {
			return errf(1, "fpctl: the daemon answered stats without counters")
		}
		if o.json {
			return writeJSON(w, resp.Stats, o.pretty)
		}
		fmt.Fprint(w, FormatStats(resp.Stats))
	case api.OpSysctlShow, api.OpSysctlSet:
		list := resp.Sysctls
		if req.Op == api.OpSysctlSet { // sysctl -w echoes the new setting
			list = []api.Sysctl{*req.Sysctl}
			list[0].Name = strings.ReplaceAll(strings.TrimPrefix(list[0].Name, "/proc/sys/"), "/", ".")
		}
		if o.json {
			return writeJSON(w, nonNil(list), o.pretty)
		}
		for _, sc := range list {
			fmt.Fprintf(w, "%s = %s\n", sc.Name, sc.Value)
		}
	}
	return nil
}

// nonNil makes an empty show print "[]" rather than "null" in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
