package leanrx

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pion/sdp/v3"
)

// offer is what a receiver keeps of one of the server's subscribe
// offers: the server's ICE and DTLS identity, each m-section, and which
// track each announced SSRC belongs to.
type offer struct {
	ufrag, pwd  string
	fingerprint string // sha-256, upper-case hex with colons
	candidates  []netip.AddrPort
	bundle      bool
	media       []offerMedia
	ssrcs       map[uint32]offerTrack
}

// offerMedia is one m-section of an offer and the codec the answer takes
// from it (accepted false: none the receiver knows, or the server
// stopped the section).
type offerMedia struct {
	kind, mid, direction string
	accepted             bool
	rtcpRsize            bool
	payloadType          string
	codecLines           []string // rtpmap, fmtp and rtcp-fb of payloadType
}

// offerTrack is what the receiver knows of an SSRC it will receive.
type offerTrack struct {
	key       string // "publisherId|source", from the offer's message
	video     bool
	clockRate uint32
}

// codecs the receiver accepts, by kind: what the app's clients register
// (sfu/codec).
var codecs = map[string]string{"video": "vp8", "audio": "opus"}

// parseOffer reads the server's SDP. tracks names each mid, as the
// protocol's subscribe offer does.
func parseOffer(raw string, tracks map[string]string) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("leanrx: offer: %w", err)
	}
	o := &offer{ssrcs: map[uint32]offerTrack{}}
	if g, ok := sd.Attribute("group"); ok && strings.HasPrefix(g, "BUNDLE") {
		o.bundle = true
	}
	fingerprint, _ := sd.Attribute("fingerprint")
	for _, md := range sd.MediaDescriptions {
		if v, ok := md.Attribute("ice-ufrag"); ok && o.ufrag == "" {
			o.ufrag = v
		}
		if v, ok := md.Attribute("ice-pwd"); ok && o.pwd == "" {
			o.pwd = v
		}
		if v, ok := md.Attribute("fingerprint"); ok && fingerprint == "" {
			fingerprint = v
		}
		m, clockRate := parseMedia(md)
		o.media = append(o.media, m)
		for _, a := range md.Attributes {
			if a.Key == "candidate" {
				if c, ok := parseCandidate(a.Value); ok {
					o.candidates = append(o.candidates, c)
				}
			}
			if a.Key != "ssrc" {
				continue
			}
			id, _, _ := strings.Cut(a.Value, " ")
			if ssrc, err := strconv.ParseUint(id, 10, 32); err == nil && m.accepted {
				o.ssrcs[uint32(ssrc)] = offerTrack{key: tracks[m.mid], video: m.kind == "video", clockRate: clockRate}
			}
		}
	}
	if u, ok := sd.Attribute("ice-ufrag"); ok {
		o.ufrag = u
	}
	if p, ok := sd.Attribute("ice-pwd"); ok {
		o.pwd = p
	}
	algorithm, value, _ := strings.Cut(fingerprint, " ")
	if !strings.EqualFold(algorithm, "sha-256") || value == "" || o.ufrag == "" || o.pwd == "" {
		return nil, errors.New("leanrx: the offer lacks an ICE ufrag and password or a sha-256 fingerprint")
	}
	o.fingerprint = strings.ToUpper(value)
	return o, nil
}

// parseMedia reads one m-section and picks its codec, returning that
// codec's clock rate.
func parseMedia(md *sdp.MediaDescription) (offerMedia, uint32) {
	m := offerMedia{kind: md.MediaName.Media, direction: "sendrecv"}
	m.mid, _ = md.Attribute("mid")
	for _, d := range []string{"sendonly", "recvonly", "sendrecv", "inactive"} {
		if _, ok := md.Attribute(d); ok {
			m.direction = d
		}
	}
	_, m.rtcpRsize = md.Attribute("rtcp-rsize")
	want, known := codecs[m.kind]
	if !known || md.MediaName.Port.Value == 0 {
		return m, 0
	}
	for _, pt := range md.MediaName.Formats {
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" || !strings.HasPrefix(a.Value, pt+" ") {
				continue
			}
			name, rest, _ := strings.Cut(strings.TrimPrefix(a.Value, pt+" "), "/")
			if !strings.EqualFold(name, want) {
				continue
			}
			rateText, _, _ := strings.Cut(rest, "/")
			rate, _ := strconv.ParseUint(rateText, 10, 32)
			m.accepted, m.payloadType = true, pt
			m.codecLines = codecLines(md, pt)
			return m, uint32(rate)
		}
	}
	return m, 0
}

// codecLines are the rtpmap, fmtp and rtcp-fb attributes of payload type
// pt, as the answer repeats them, less the feedback the receiver does not
// send: transport-cc (and the answer accepts no header extension, so the
// server sends none).
func codecLines(md *sdp.MediaDescription, pt string) []string {
	var lines []string
	for _, a := range md.Attributes {
		switch {
		case a.Key != "rtpmap" && a.Key != "fmtp" && a.Key != "rtcp-fb",
			!strings.HasPrefix(a.Value, pt+" "),
			a.Key == "rtcp-fb" && strings.HasPrefix(a.Value, pt+" transport-cc"):
			continue
		}
		lines = append(lines, a.Key+":"+a.Value)
	}
	return lines
}

// answerVersion numbers the answers' origin lines, as RFC 8866 asks of
// a session that changes.
var answerVersion atomic.Uint64

// answer is the receiver's answer to o: receive-only where the server
// sends, the codec it picked, our ICE and DTLS identity, and our one
// host candidate on the first m-section (all m-sections are bundled).
// The server is the controlling agent (it offered): it nominates.
func (o *offer) answer(local localICE, fingerprint string, addr netip.AddrPort) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	line("v=0")
	line("o=- %d %d IN IP4 0.0.0.0", randomSSRC(), answerVersion.Add(1))
	line("s=-")
	line("t=0 0")
	line("a=fingerprint:sha-256 %s", fingerprint)
	if o.bundle {
		var mids []string
		for _, m := range o.media {
			if m.accepted {
				mids = append(mids, m.mid)
			}
		}
		line("a=group:BUNDLE %s", strings.Join(mids, " "))
	}
	candidate := false
	for _, m := range o.media {
		if !m.accepted {
			line("m=%s 0 UDP/TLS/RTP/SAVPF 0", m.kind)
			line("c=IN IP4 0.0.0.0")
			line("a=mid:%s", m.mid)
			continue
		}
		line("m=%s 9 UDP/TLS/RTP/SAVPF %s", m.kind, m.payloadType)
		line("c=IN IP4 0.0.0.0")
		line("a=mid:%s", m.mid)
		line("a=ice-ufrag:%s", local.ufrag)
		line("a=ice-pwd:%s", local.pwd)
		line("a=setup:active")
		line("a=rtcp-mux")
		if m.rtcpRsize {
			line("a=rtcp-rsize")
		}
		for _, c := range m.codecLines {
			line("a=%s", c)
		}
		switch m.direction {
		case "sendonly", "sendrecv":
			line("a=recvonly")
		default:
			line("a=inactive")
		}
		if !candidate {
			candidate = true
			line("a=candidate:1 1 udp 2130706431 %s %d typ host", addr.Addr(), addr.Port())
			line("a=end-of-candidates")
		}
	}
	return b.String()
}
