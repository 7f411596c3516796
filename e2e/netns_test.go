package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"meet/app"
	"meet/store"
)

// This file is the harness of the network tests (networks_test.go): real
// networks made of Linux network namespaces, veth pairs and iptables, with
// a real Chromium inside a namespace.
//
// The test process stays in the suite's private namespace (scripts/test.sh's
// `unshare -n`) and plays the public internet: a bridge there is one
// segment, internetNet, on which the app server (HTTPS, SFU, TURN/STUN) has
// serverIP. Every other "host" is a namespace of its own: a client on that
// segment, or a NAT router on it with a client behind it on a LAN.
//
// No namespace has a default route: each knows only the test's networks,
// so no packet of a browser can be addressed to anything else. The
// namespaces are held by a `sleep` process started in a new network
// namespace (CLONE_NEWNET), not named with `ip netns add`: that would write
// into /run, which `unshare -n` shares with the host, and a killed test
// would leave mounts behind there. A namespace dies with its last process,
// and its veth ends, with their peers, go with it.

const (
	// internetNet is the test's "public internet": TEST-NET-2, which no
	// real network routes. The TURN peer filter refuses documentation
	// ranges, so the tests allow this one (TURNConfig.AllowPeers), and only
	// it: the clients' LANs stay forbidden to the relay, as in production.
	internetNet = "198.51.100.0/24"
	serverIP    = "198.51.100.1"
)

// labSeq numbers the bridges and veths of the test binary: interface names
// live in the suite's one namespace and have at most 15 bytes.
var labSeq atomic.Int64

// netLab is the internet of one test: a bridge in the test's namespace
// with serverIP.
type netLab struct {
	t      testing.TB
	bridge string
}

// newNetLab checks that the test runs in a private namespace with only lo
// (before adding anything to it) and has the tools, and makes the bridge.
func newNetLab(t testing.TB) *netLab {
	t.Helper()
	requirePrivateNetwork(t)
	if os.Geteuid() != 0 {
		skipOrFail(t, "the network tests make namespaces, veths and iptables rules: they need root (scripts/test.sh runs them as root)")
	}
	for _, tool := range []string{"ip", "iptables", "nsenter", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "the network tests need %s: install Debian's iptables, iproute2 and util-linux (scripts/test.sh does)", tool)
		}
	}
	l := &netLab{t: t, bridge: fmt.Sprintf("mnet%dbr", labSeq.Add(1))}
	t.Cleanup(func() { l.try("ip", "link", "del", l.bridge) })
	l.run("ip", "link", "add", l.bridge, "type", "bridge")
	// No IPv6 link-local addresses: the tests are about IPv4 paths. (The
	// kernel may have no IPv6: then there is nothing to turn off.)
	os.WriteFile("/proc/sys/net/ipv6/conf/"+l.bridge+"/disable_ipv6", []byte("1"), 0o644)
	l.run("ip", "addr", "add", serverIP+"/24", "dev", l.bridge)
	l.run("ip", "link", "set", l.bridge, "up")
	return l
}

// forTest is the same internet for a subtest: what the subtest adds to it
// goes when the subtest ends, and its failures are the subtest's.
func (l *netLab) forTest(t testing.TB) *netLab {
	c := *l
	c.t = t
	return &c
}

// run runs a command in the test's namespace and fails the test if it
// fails.
func (l *netLab) run(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// try runs a command whose failure does not matter (cleanup of what may
// be gone already).
func (l *netLab) try(args ...string) {
	exec.Command(args[0], args[1:]...).Run()
}

// netns is one network namespace: a host or a router.
type netns struct {
	lab  *netLab
	name string
	pid  int // of the process that holds it
}

// namespace makes an empty namespace with lo up; it ends with the test.
func (l *netLab) namespace(name string) *netns {
	l.t.Helper()
	cmd := exec.Command("sleep", "infinity")
	// Pdeathsig: a test binary that dies takes its namespaces with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("making the namespace %s: %v", name, err)
	}
	n := &netns{lab: l, name: name, pid: cmd.Process.Pid}
	// Registered before anything runs inside, so it runs after the
	// cleanups of what runs inside (a browser): a namespace goes once it
	// is empty.
	l.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	n.run("ip", "link", "set", "lo", "up")
	n.sysctl("net/ipv6/conf/all/disable_ipv6", "1", true)
	n.sysctl("net/ipv6/conf/default/disable_ipv6", "1", true)
	return n
}

// sysctl sets a kernel setting of the namespace: /proc/sys/net shows the
// namespace of the process that opens it. (Written by sh, not sysctl(8),
// which is not on every machine.) optional ignores a setting the kernel
// does not have.
func (n *netns) sysctl(key, value string, optional bool) {
	n.lab.t.Helper()
	write := fmt.Sprintf("echo %s > /proc/sys/%s", value, key)
	if optional {
		write = fmt.Sprintf("[ ! -e /proc/sys/%s ] || %s", key, write)
	}
	n.run("sh", "-c", write)
}

// path is the namespace's file, for nsenter.
func (n *netns) path() string { return fmt.Sprintf("/proc/%d/ns/net", n.pid) }

// run runs a command inside the namespace and fails the test if it fails.
func (n *netns) run(args ...string) {
	n.lab.t.Helper()
	full := append([]string{"--net=" + n.path(), "--"}, args...)
	if out, err := exec.Command("nsenter", full...).CombinedOutput(); err != nil {
		n.lab.t.Fatalf("in %s: %s: %v\n%s", n.name, strings.Join(args, " "), err, out)
	}
}

// output runs a command inside the namespace and returns its output, for
// reports (iptables counters).
func (n *netns) output(args ...string) string {
	full := append([]string{"--net=" + n.path(), "--"}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// onInternet makes a namespace plugged into the internet as addr, its
// interface "wan".
func (l *netLab) onInternet(name, addr string) *netns {
	l.t.Helper()
	n := l.namespace(name)
	port := fmt.Sprintf("mnet%dp", labSeq.Add(1))
	l.run("ip", "link", "add", port, "type", "veth", "peer", "name", "wan", "netns", fmt.Sprint(n.pid))
	l.t.Cleanup(func() { l.try("ip", "link", "del", port) })
	l.run("ip", "link", "set", port, "master", l.bridge)
	l.run("ip", "link", "set", port, "up")
	n.run("ip", "addr", "add", addr+"/24", "dev", "wan")
	n.run("ip", "link", "set", "wan", "up")
	return n
}

// natRouter is a home router: its "wan" on the internet at wanIP, its
// "lan" at lanNet.1/24, and in between IPv4 forwarding with MASQUERADE
// (source NAT to wanIP) and the usual stateful firewall: from the LAN
// anything goes out; from the internet only the answers to it come in, to
// the LAN or to the router itself. Linux's NAT keeps a source port when it
// is free and lets in only answers from the address and port a packet went
// to: a "port-restricted cone" NAT, the common home router.
//
// The firewall's DROP on unsolicited packets to the router matters for more
// than realism: conntrack only records a packet's connection once the
// packet passes, so a probe that arrives before the inside host has sent
// anything leaves no entry behind. Without the DROP, it would leave one,
// and the inside host's own packet to the same peer would then get another
// source port (the mapping is taken), which breaks hole punching.
func (l *netLab) natRouter(name, wanIP, lanNet string) *netns {
	l.t.Helper()
	r := l.onInternet(name, wanIP)
	r.sysctl("net/ipv4/ip_forward", "1", false)
	r.run("ip", "link", "add", "lan", "type", "veth", "peer", "name", "lanpeer")
	r.run("ip", "addr", "add", lanNet+".1/24", "dev", "lan")
	r.run("ip", "link", "set", "lan", "up")
	for _, rule := range [][]string{
		{"-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"},
		{"-P", "FORWARD", "DROP"},
		{"-A", "FORWARD", "-i", "lan", "-o", "wan", "-j", "ACCEPT"},
		{"-A", "FORWARD", "-i", "wan", "-o", "lan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", "INPUT", "-i", "wan", "-j", "DROP"},
	} {
		r.run(append([]string{"iptables", "-w"}, rule...)...)
	}
	return r
}

// behind makes a client on the LAN of router r (made by natRouter with
// lanNet), at lanNet.2, routing the internet through the router.
func (l *netLab) behind(r *netns, name, lanNet string) *netns {
	l.t.Helper()
	c := l.namespace(name)
	r.run("ip", "link", "set", "lanpeer", "netns", fmt.Sprint(c.pid))
	c.run("ip", "link", "set", "lanpeer", "name", "lan")
	c.run("ip", "addr", "add", lanNet+".2/24", "dev", "lan")
	c.run("ip", "link", "set", "lan", "up")
	c.run("ip", "route", "add", internetNet, "via", lanNet+".1")
	return c
}

// dropUDP is a firewall that drops every UDP packet in and out of the
// namespace, its own loopback included: only TCP gets through.
func (n *netns) dropUDP() {
	n.lab.t.Helper()
	n.run("iptables", "-w", "-A", "OUTPUT", "-p", "udp", "-j", "DROP")
	n.run("iptables", "-w", "-A", "INPUT", "-p", "udp", "-j", "DROP")
}

// chromium starts headless Chromium inside the namespace, with pageHost
// mapped to the server's address, and stops it when the test ends.
//
// The wrapper script that chromedp starts in place of Chromium enters the
// namespace with nsenter and execs Chromium: the browser process, its
// network service and its renderers all live in the namespace. chromedp
// speaks DevTools over a pipe (file descriptors 3 and 4, which nsenter and
// the exec pass on), so the test drives the browser from its own namespace
// and the DevTools traffic is not on the network under test.
//
// flags add to or replace the usual flags (chromiumFlags).
func (n *netns) chromium(flags ...chromedp.ExecAllocatorOption) *browser {
	t := n.lab.t
	t.Helper()
	dir, err := os.MkdirTemp("", "meet-e2e-netns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	wrapper := filepath.Join(dir, "chromium-in-"+n.name)
	wrap := func(path string) string {
		script := fmt.Sprintf("#!/bin/sh\n# Chromium in the network namespace %s (netns_test.go).\nexec nsenter --net=%s -- %s \"$@\"\n",
			n.name, n.path(), path)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return wrapper
	}
	b := &browser{t: t, kind: chromium, log: newEventLog()}
	var stop func()
	b.open, stop = startChromiumWith(t, chromiumSetup{
		wrap: wrap,
		flags: append([]chromedp.ExecAllocatorOption{
			chromedp.Flag("host-resolver-rules", "MAP "+pageHost+" "+serverIP),
			// No sound to mix and play for five tabs on two cores. The
			// window stays the usual size: a tile off screen gets no
			// video from the SFU (views.js), and a small window scrolls
			// four tiles out of sight.
			chromedp.Flag("mute-audio", true),
		}, flags...),
	}, b.log)
	t.Cleanup(func() {
		dumpLog(t, "chromium in "+n.name+": consoles", b.log)
		stop()
	})
	return b
}

// startInternetApp is startAppWith on the internet: HTTPS on every
// address of the test's namespace (serverIP for the browsers, 127.0.0.1
// for the test's Go clients, which dial pageHost there), with the SFU
// announcing serverIP.
func startInternetApp(t testing.TB, configure func(*app.Config)) *appServer {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	log := newEventLog()
	logger := slog.New(slog.NewTextHandler(logWriter{log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := app.Config{
		Store:    st,
		Secret:   []byte("e2e-test-secret-e2e-test-secret-e2e-test-secret"),
		MeshMax:  4,
		Logger:   logger,
		PublicIP: serverIP,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := app.New(cfg)
	if err != nil {
		st.Close()
		t.Fatalf("app.New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("listening on the internet: %v", err)
	}
	ts.Listener.Close()
	ts.Listener = ln
	startHTTPS(t, ts)
	metrics := httptest.NewServer(srv.MetricsHandler())
	t.Cleanup(func() {
		metrics.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		ts.Close()
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
		dumpLog(t, "server log", log)
	})
	return &appServer{Server: ts, t: t, log: log, metricsURL: metrics.URL}
}
