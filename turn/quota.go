package turn

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Defaults for the allocation caps. A browser makes one allocation per TURN
// URL (UDP, TCP, TLS) for each peer connection. In a mesh of four, during a
// switch to the SFU, a page holds three mesh connections and two SFU ones:
// five connections times three URLs is fifteen, hence thirty per user. A
// client IP is shared by everyone behind the same NAT: a class of thirty
// in one school, with two SFU connections each and TURN over UDP and TCP,
// holds 120 relays, hence 500 per IP; a single host with no meeting cannot
// get any (Config.Allowed), so the per-IP cap only bounds a crowd.
const (
	DefaultMaxAllocationsPerUser = 30
	DefaultMaxAllocationsPerIP   = 500
)

var errUnknownOwner = errors.New("turn: allocation request without an authenticated owner")

// allocationOwner is who an allocation is charged to.
//
// pion hands the relay address generator the user id that our AuthHandler
// returned, but not the client's address, and the relay socket is the only
// thing whose creation and Close bracket an allocation exactly. So the
// AuthHandler returns the owner encoded as one opaque string, and pion
// carries it through to AllocatePacketConn, where the slot is reserved.
type allocationOwner struct {
	clientIP netip.Addr
	userID   string
}

// ownerSeparator cannot occur in the text form of an IP address, and the IP
// comes first, so a user id may contain anything.
const ownerSeparator = " "

func (o allocationOwner) String() string {
	return o.clientIP.String() + ownerSeparator + o.userID
}

func parseOwner(text string) (allocationOwner, error) {
	ipText, userID, found := strings.Cut(text, ownerSeparator)
	clientIP, err := netip.ParseAddr(ipText)
	if !found || err != nil || userID == "" {
		return allocationOwner{}, errUnknownOwner
	}

	return allocationOwner{clientIP: clientIP, userID: userID}, nil
}

// addrIP extracts the IP of a UDP or TCP address, IPv4-mapped forms unmapped
// so that one client is one key whichever socket family it came in on.
func addrIP(addr net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}, false
	}
	parsed, ok := netip.AddrFromSlice(ip)

	return parsed.Unmap(), ok
}

// clientNetwork is the unit the per-IP cap counts: the address for IPv4, the
// /64 for IPv6, because one IPv6 host is routinely handed a whole /64 and
// could otherwise pick a fresh address for every allocation.
func clientNetwork(ip netip.Addr) netip.Prefix {
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	network, _ := ip.Prefix(64)

	return network
}

// allocationLedger counts live allocations per user id and per client
// network, and is the one place that decides whether another fits. Checking
// and taking a slot happen under one lock, so two allocate requests racing
// on different listeners cannot both take the last slot.
type allocationLedger struct {
	maxPerUser int
	maxPerIP   int

	mu      sync.Mutex
	perUser map[string]int
	perIP   map[netip.Prefix]int
}

func newAllocationLedger(maxPerUser, maxPerIP int) *allocationLedger {
	return &allocationLedger{
		maxPerUser: maxPerUser,
		maxPerIP:   maxPerIP,
		perUser:    make(map[string]int),
		perIP:      make(map[netip.Prefix]int),
	}
}

// admits reports whether owner has a free slot, without taking it. It lets
// the quota handler answer 486 (Allocation Quota Reached), the code RFC 8656
// defines for this; reserve makes the binding decision afterwards.
func (l *allocationLedger) admits(owner allocationOwner) (RefusalReason, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.refusalLocked(owner)
}

// reserve takes a slot for owner and returns the function that gives it
// back; calling that function more than once gives back one slot only.
func (l *allocationLedger) reserve(owner allocationOwner) (release func(), reason RefusalReason, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if reason, ok := l.refusalLocked(owner); !ok {
		return nil, reason, false
	}
	network := clientNetwork(owner.clientIP)
	l.perUser[owner.userID]++
	l.perIP[network]++

	var once sync.Once

	return func() { once.Do(func() { l.release(owner.userID, network) }) }, "", true
}

func (l *allocationLedger) refusalLocked(owner allocationOwner) (RefusalReason, bool) {
	if l.perUser[owner.userID] >= l.maxPerUser {
		return RefusedUserCap, false
	}
	if l.perIP[clientNetwork(owner.clientIP)] >= l.maxPerIP {
		return RefusedIPCap, false
	}

	return "", true
}

func (l *allocationLedger) release(userID string, network netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()

	// Deleting at zero keeps the maps as small as the set of live owners.
	if l.perUser[userID]--; l.perUser[userID] <= 0 {
		delete(l.perUser, userID)
	}
	if l.perIP[network]--; l.perIP[network] <= 0 {
		delete(l.perIP, network)
	}
}
