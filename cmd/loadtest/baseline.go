package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// The baseline is a bare Pion sender: the same synthetic stream written
// with TrackLocalStaticRTP to n Pion receivers in this process, with the
// interceptors and SRTP profile the SFU uses. Pion writes synchronously
// down to the socket, so the CPU time of the one OS thread that runs the
// sending goroutine is the whole cost of sending (interceptors, SRTP,
// sendto), and the receivers' work on other threads is not in it. It is
// what the SFU's CPU per forwarded packet is compared with.

type baselineResult struct {
	Receivers   int     `json:"receivers"`
	Packets     uint64  `json:"packets"` // packets written, one per receiver
	CPUSeconds  float64 `json:"cpu_s"`
	USPerPacket float64 `json:"us_per_packet"`
}

// newSenderAPI configures Pion as the SFU does for its subscribers.
func newSenderAPI() (*webrtc.API, error) {
	return newPionAPI([]webrtc.RTCPFeedback{{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}, true)
}

// connectDirect negotiates sender with receiver in-process, candidates
// gathered up front.
func connectDirect(sender, receiver *webrtc.PeerConnection) error {
	offer, err := sender.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(sender)
	if err := sender.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if err := receiver.SetRemoteDescription(*sender.LocalDescription()); err != nil {
		return err
	}
	answer, err := receiver.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered = webrtc.GatheringCompletePromise(receiver)
	if err := receiver.SetLocalDescription(answer); err != nil {
		return err
	}
	<-gathered
	return sender.SetRemoteDescription(*receiver.LocalDescription())
}

// runBaseline sends spec's stream to n receivers and measures the sending
// thread's CPU over d, once every receiver gets media.
func runBaseline(ctx context.Context, clientAPI *webrtc.API, spec mediaSpec, n int, d time.Duration) (baselineResult, error) {
	senderAPI, err := newSenderAPI()
	if err != nil {
		return baselineResult{}, err
	}
	videoTrack, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "baseline")
	audioTrack, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "microphone", "baseline")
	video := newStream("baseline|camera", true, videoTrack)
	audio := newStream("baseline|microphone", false, audioTrack)

	var pcs []*webrtc.PeerConnection
	defer func() {
		var wg sync.WaitGroup
		for _, pc := range pcs {
			wg.Add(1)
			go func() { defer wg.Done(); _ = pc.Close() }()
		}
		wg.Wait()
	}()
	var receiving atomic.Int32
	for i := 0; i < n; i++ {
		s, err := senderAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return baselineResult{}, err
		}
		pcs = append(pcs, s)
		r, err := clientAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return baselineResult{}, err
		}
		pcs = append(pcs, r)
		for _, tr := range []webrtc.TrackLocal{videoTrack, audioTrack} {
			sender, err := s.AddTrack(tr)
			if err != nil {
				return baselineResult{}, err
			}
			// As the SFU does: read the receiver's RTCP so the
			// interceptors see it.
			go func() {
				for {
					if _, _, err := sender.ReadRTCP(); err != nil {
						return
					}
				}
			}()
		}
		r.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			counted := track.Kind() != webrtc.RTPCodecTypeVideo
			for {
				if _, _, err := track.Read(buf); err != nil {
					return
				}
				if !counted {
					counted = true
					receiving.Add(1)
				}
			}
		})
		if err := connectDirect(s, r); err != nil {
			return baselineResult{}, fmt.Errorf("baseline connection %d: %w", i, err)
		}
	}

	var (
		mark    atomic.Int32 // 1: take the start sample; 2: take the end sample
		marked  = make(chan struct{}, 2)
		samples [2]struct {
			cpu     time.Duration
			packets uint32
		}
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pace(spec, video, audio, stop, func() {
			if m := mark.Load(); m != 0 {
				samples[m-1].cpu = threadCPU()
				samples[m-1].packets = video.next.Load() + audio.next.Load()
				mark.Store(0)
				marked <- struct{}{}
			}
		})
	}()
	defer func() { close(stop); <-done }()

	deadline := time.Now().Add(30 * time.Second)
	for int(receiving.Load()) < n {
		if time.Now().After(deadline) {
			return baselineResult{}, fmt.Errorf("baseline: %d of %d receivers got video", receiving.Load(), n)
		}
		select {
		case <-ctx.Done():
			return baselineResult{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	mark.Store(1)
	<-marked
	select {
	case <-ctx.Done():
		return baselineResult{}, ctx.Err()
	case <-time.After(d):
	}
	mark.Store(2)
	<-marked
	cpu := samples[1].cpu - samples[0].cpu
	packets := uint64(samples[1].packets-samples[0].packets) * uint64(n)
	res := baselineResult{Receivers: n, Packets: packets, CPUSeconds: cpu.Seconds()}
	if packets > 0 {
		res.USPerPacket = float64(cpu.Microseconds()) / float64(packets)
	}
	return res, nil
}
