package turn

import (
	"net/netip"
)

// An open TURN relay is a proxy into the network it runs in: a client that
// may create a permission for 127.0.0.1, 10.0.0.5 or 169.254.169.254 can
// reach the server's own admin ports, the LAN behind it and the cloud
// metadata service, none of which a browser should ever need. WebRTC peers
// worth relaying to are public addresses, so everything that is not
// globally routable unicast is refused.
//
// forbiddenPeerPrefixes lists those ranges. The cloud metadata addresses are
// inside them: 169.254.169.254 (AWS, GCP, Azure, OpenStack) in link-local,
// 100.100.100.200 (Alibaba) in CGNAT, fd00:ec2::254 (AWS IPv6) in ULA.
var forbiddenPeerPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", includes unspecified
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, metadata services
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, includes 255.255.255.255
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), includes :: and ::1
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64: a path into private IPv4
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation, never a real peer
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo: the IPv4 inside is obfuscated, so it cannot be checked
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, used inside some networks
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// Prefixes of IPv6 forms that embed an IPv4 address a gateway will deliver
// to: the embedded address is judged by the IPv4 rules.
var (
	nat64WellKnownPrefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix      = netip.MustParsePrefix("2002::/16")
)

// peerForbidden reports whether the relay must refuse a permission or channel
// to peer. Prefixes in allowed are exceptions that win over every rule
// (tests relay to 127.0.0.1 this way). An invalid address is forbidden.
func peerForbidden(peer netip.Addr, allowed []netip.Prefix) bool {
	if !peer.IsValid() {
		return true
	}
	// IPv4-mapped IPv6 (::ffff:a.b.c.d) reaches the IPv4 address through a
	// dual-stack socket, so it is the IPv4 address for every rule.
	peer = peer.WithZone("").Unmap()
	if matchesAny(peer, allowed) {
		return false
	}
	if embedded, ok := embeddedIPv4(peer); ok && peerForbidden(embedded, allowed) {
		return true
	}

	return matchesAny(peer, forbiddenPeerPrefixes)
}

// embeddedIPv4 returns the IPv4 address that a NAT64 (64:ff9b::/96) or
// 6to4 (2002:AABB:CCDD::/48) address would be delivered to.
func embeddedIPv4(peer netip.Addr) (netip.Addr, bool) {
	if !peer.Is6() {
		return netip.Addr{}, false
	}
	raw := peer.As16()
	switch {
	case nat64WellKnownPrefix.Contains(peer):
		return netip.AddrFrom4([4]byte(raw[12:16])), true
	case sixToFourPrefix.Contains(peer):
		return netip.AddrFrom4([4]byte(raw[2:6])), true
	default:
		return netip.Addr{}, false
	}
}

func matchesAny(addr netip.Addr, prefixes []netip.Prefix) bool {
	for _, prefix := range prefixes {
		// Unmap the prefix too, so an exception written as ::ffff:127.0.0.1/128
		// means what it says.
		if prefix.Addr().Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-96)
		}
		if prefix.Contains(addr) {
			return true
		}
	}

	return false
}
