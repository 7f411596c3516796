package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/sfu/codec"
	"meet/sfu/sfuclient"
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

// newSenderAPI configures Pion as the SFU does for its subscribers: the
// app's codecs, NACKs, RTCP reports and TWCC feedback.
func newSenderAPI() (*webrtc.API, error) {
	return sfuclient.NewAPI(sfuclient.Options{TWCCFeedback: true})
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
	videoTrack, _ := webrtc.NewTrackLocalStaticRTP(codec.VP8(), "camera", "baseline")
	audioTrack, _ := webrtc.NewTrackLocalStaticRTP(codec.Opus(), "microphone", "baseline")
	video := newVideoStream("baseline|camera", videoTrack, spec, 0, cameraLayers(spec.videoBitrate, false)[0])
	audio := newAudioStream("baseline|microphone", audioTrack)

	links := &baselineLinks{}
	defer links.close()
	if err := links.connect(senderAPI, clientAPI, n, videoTrack, audioTrack); err != nil {
		return baselineResult{}, err
	}
	pacer := startSampledPacer(spec, video, audio)
	defer pacer.halt()
	if err := links.waitReceiving(ctx, n); err != nil {
		return baselineResult{}, err
	}
	start := pacer.sample(0)
	select {
	case <-ctx.Done():
		return baselineResult{}, ctx.Err()
	case <-time.After(d):
	}
	end := pacer.sample(1)
	cpu := end.cpu - start.cpu
	packets := uint64(end.packets-start.packets) * uint64(n)
	res := baselineResult{Receivers: n, Packets: packets, CPUSeconds: cpu.Seconds()}
	if packets > 0 {
		res.USPerPacket = float64(cpu.Microseconds()) / float64(packets)
	}
	return res, nil
}

// baselineLinks are the baseline's connections: a sender and a receiver
// for each receiving client, all in this process.
type baselineLinks struct {
	pcs       []*webrtc.PeerConnection
	receiving atomic.Int32 // receivers that got video
}

// connect makes n sender and receiver pairs carrying tracks.
func (l *baselineLinks) connect(senderAPI, receiverAPI *webrtc.API, n int, tracks ...webrtc.TrackLocal) error {
	for i := 0; i < n; i++ {
		s, err := senderAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		l.pcs = append(l.pcs, s)
		r, err := receiverAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		l.pcs = append(l.pcs, r)
		for _, tr := range tracks {
			sender, err := s.AddTrack(tr)
			if err != nil {
				return err
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
		r.OnTrack(l.read)
		if err := connectDirect(s, r); err != nil {
			return fmt.Errorf("baseline connection %d: %w", i, err)
		}
	}
	return nil
}

// read drains a received track, counting the receiver once video comes.
func (l *baselineLinks) read(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	counted := track.Kind() != webrtc.RTPCodecTypeVideo
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
		if !counted {
			counted = true
			l.receiving.Add(1)
		}
	}
}

// waitReceiving waits, up to 30 s, until n receivers get video.
func (l *baselineLinks) waitReceiving(ctx context.Context, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for int(l.receiving.Load()) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("baseline: %d of %d receivers got video", l.receiving.Load(), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (l *baselineLinks) close() {
	var wg sync.WaitGroup
	for _, pc := range l.pcs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = pc.Close() }()
	}
	wg.Wait()
}

// sampledPacer paces the stream from one goroutine locked to its OS
// thread, and samples that thread's CPU time and the packets sent when
// asked, between two rounds of sends.
type sampledPacer struct {
	mark    atomic.Int32 // 1: take the start sample; 2: take the end sample
	marked  chan struct{}
	samples [2]pacerSample
	stop    chan struct{}
	done    chan struct{}
}

type pacerSample struct {
	cpu     time.Duration
	packets uint32
}

func startSampledPacer(spec mediaSpec, video, audio *stream) *sampledPacer {
	sp := &sampledPacer{marked: make(chan struct{}, 2), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pace(spec, []*stream{video}, audio, sp.stop, func() {
			if m := sp.mark.Load(); m != 0 {
				sp.samples[m-1] = pacerSample{cpu: threadCPU(), packets: video.next.Load() + audio.next.Load()}
				sp.mark.Store(0)
				sp.marked <- struct{}{}
			}
		})
	}()
	return sp
}

// sample takes sample i (0: start, 1: end) on the pacing thread.
func (sp *sampledPacer) sample(i int) pacerSample {
	sp.mark.Store(int32(i + 1))
	<-sp.marked
	return sp.samples[i]
}

func (sp *sampledPacer) halt() {
	close(sp.stop)
	<-sp.done
}
