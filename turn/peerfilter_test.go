package turn

import (
	"net"
	"net/netip"
	"testing"
)

func TestPeerForbidden(t *testing.T) {
	tests := []struct {
		peer      string
		forbidden bool
	}{
		// Public unicast: what relays are for.
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"100.63.255.255", false}, // just below CGNAT
		{"100.128.0.0", false},    // just above CGNAT
		{"172.15.255.255", false}, // just below 172.16/12
		{"172.32.0.0", false},     // just above it
		{"223.255.255.255", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", false},  // 6to4 of 8.8.8.8

		// IPv4 ranges that are not public unicast.
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"100.64.0.1", true},
		{"100.100.100.200", true}, // Alibaba metadata, inside CGNAT
		{"100.127.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"255.255.255.255", true},
		{"240.0.0.1", true},

		// IPv6.
		{"::", true},
		{"::1", true},
		{"fc00::1", true},
		{"fd00:ec2::254", true}, // AWS IPv6 metadata
		{"fe80::1", true},
		{"ff02::1", true},
		{"2001:db8::1", true},

		// IPv4 behind IPv6 forms: judged by the IPv4 address.
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:192.168.1.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:100.64.0.1", true},
		{"::ffff:0.0.0.0", true},
		{"::ffff:224.0.0.1", true},
		{"::ffff:255.255.255.255", true},
		{"::127.0.0.1", true},         // IPv4-compatible
		{"64:ff9b::a00:1", true},      // NAT64 of 10.0.0.1
		{"64:ff9b::a9fe:a9fe", true},  // NAT64 of 169.254.169.254
		{"64:ff9b:1::a00:1", true},    // local-use NAT64
		{"2002:c0a8:101::1", true},    // 6to4 of 192.168.1.1
		{"2002:7f00:1::1", true},      // 6to4 of 127.0.0.1
		{"fe80::1%eth0", true},        // a zone does not change the address
		{"2001:0:4136:e378::1", true}, // Teredo: its IPv4 is hidden
	}
	for _, test := range tests {
		peer := netip.MustParseAddr(test.peer)
		if got := peerForbidden(peer, nil); got != test.forbidden {
			t.Errorf("peerForbidden(%s) = %v, want %v", test.peer, got, test.forbidden)
		}
	}
	if !peerForbidden(netip.Addr{}, nil) {
		t.Errorf("the invalid address must be forbidden")
	}
}

// TestPeerForbiddenExceptions: AllowPeers opens exactly its prefixes, also
// when the peer or the prefix is written in IPv4-mapped form.
func TestPeerForbiddenExceptions(t *testing.T) {
	allowed := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::ffff:10.1.0.0/112"), // 10.1.0.0/16
		netip.MustParsePrefix("fd12::/16"),
	}
	tests := []struct {
		peer      string
		forbidden bool
	}{
		{"127.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"127.0.0.2", true},
		{"10.1.2.3", false},
		{"10.2.0.1", true},
		{"fd12::5", false},
		{"fd13::5", true},
		{"64:ff9b::7f00:1", false}, // NAT64 of the allowed 127.0.0.1
		{"192.168.1.1", true},
	}
	for _, test := range tests {
		if got := peerForbidden(netip.MustParseAddr(test.peer), allowed); got != test.forbidden {
			t.Errorf("peerForbidden(%s, exceptions) = %v, want %v", test.peer, got, test.forbidden)
		}
	}
}

// TestPermitPeerTakesPionsIPForms: pion hands the handler a net.IP of 4 or
// 16 bytes; both forms of a private address are refused and counted.
func TestPermitPeerTakesPionsIPForms(t *testing.T) {
	server := &Server{counters: newCounters(), log: testLogger(t)}
	client := &net.UDPAddr{IP: net.IPv4(203, 0, 113, 9), Port: 5000}
	for _, peer := range []net.IP{net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 1).To16(), nil} {
		if server.permitPeer(client, peer) {
			t.Errorf("permitPeer(%v) = true, want refused", []byte(peer))
		}
	}
	if !server.permitPeer(client, net.IPv4(8, 8, 8, 8).To16()) {
		t.Errorf("permitPeer(8.8.8.8) = false, want allowed")
	}
	if got := server.counters.peersRefused.Load(); got != 3 {
		t.Errorf("peersRefused = %d, want 3", got)
	}
}
