package room

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// TestOfferSendsMedia checks the SDP reading that refuses publish offers
// of participants who may not publish: only audio and video sections that
// send count. The offers are Pion's, with the direction line rewritten.
func TestOfferSendsMedia(t *testing.T) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	recvonly := o.SDP
	if !strings.Contains(recvonly, "a=recvonly\r\n") {
		t.Fatalf("no recvonly line in %q", recvonly)
	}
	with := func(line string) string { return strings.Replace(recvonly, "a=recvonly\r\n", line, 1) }

	dc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if _, err := dc.CreateDataChannel("meet", nil); err != nil {
		t.Fatal(err)
	}
	dataOnly, err := dc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		sdp    string
		tracks map[string]string
		sends  bool
	}{
		{"sendonly video", with("a=sendonly\r\n"), nil, true},
		{"sendrecv video", with("a=sendrecv\r\n"), nil, true},
		{"no direction means sendrecv", with(""), nil, true},
		{"recvonly video", recvonly, nil, false},
		{"inactive video", with("a=inactive\r\n"), nil, false},
		{"data channel only", dataOnly.SDP, nil, false},
		{"named track", recvonly, map[string]string{"0": "camera"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := offerSendsMedia(&protocol.SFU{SDP: tt.sdp, Tracks: tt.tracks})
			if err != nil || got != tt.sends {
				t.Fatalf("offerSendsMedia = %v, %v; want %v", got, err, tt.sends)
			}
		})
	}
	if _, err := offerSendsMedia(&protocol.SFU{SDP: "not sdp"}); err == nil {
		t.Fatal("garbage SDP was accepted")
	}
}
