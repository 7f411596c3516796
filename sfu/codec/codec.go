// Package codec declares the media the app negotiates, for both ends of an
// SFU connection: the SFU forwards packets without decoding them, so what
// any publisher sends must be what every subscriber decodes, and the Go
// clients (sfuclient: the tests and the load tool) must offer what the
// server takes. Browsers are steered to the same codecs by the frontend.
package codec

import "github.com/pion/webrtc/v4"

// Payload types this side offers. An answer takes the offer's numbers, so
// the two ends need not agree on them.
const (
	vp8PayloadType  = 96
	opusPayloadType = 111
)

// VP8 is the app's video codec, with the feedback a receiver may send:
// keyframe requests (FIR, PLI) and NACKs. Every browser decodes it.
func VP8() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{
		MimeType:  webrtc.MimeTypeVP8,
		ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{
			{Type: "ccm", Parameter: "fir"},
			{Type: "nack"},
			{Type: "nack", Parameter: "pli"},
		},
	}
}

// Opus is the app's audio codec, with the parameters browsers offer:
// 10 ms frames at least, and in-band forward error correction.
func Opus() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeOpus,
		ClockRate:   48000,
		Channels:    2,
		SDPFmtpLine: "minptime=10;useinbandfec=1",
	}
}

// Register puts the app's codecs, and only them, on m. Header extensions
// are not declared here: the one the app negotiates, TWCC's transport-wide
// sequence number, comes with the interceptor that reads it
// (webrtc.ConfigureTWCCSender), which the SFU installs.
func Register(m *webrtc.MediaEngine) error {
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: VP8(), PayloadType: vp8PayloadType}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	return m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: Opus(), PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio)
}
