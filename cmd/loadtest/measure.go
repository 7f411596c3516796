package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// histogram counts latencies in fixed buckets, so that recording one costs
// one atomic increment whatever the packet rate and however many receivers
// share it. Buckets are 50 µs wide up to one second; slower ones share the
// last bucket.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
}

const (
	histWidth   = 50 * time.Microsecond
	histBuckets = int(time.Second / histWidth)
)

func (h *histogram) record(d time.Duration) {
	i := int(d / histWidth)
	if i < 0 {
		i = 0 // clocks of one host; a negative value is rounding
	}
	if i >= histBuckets {
		i = histBuckets - 1
	}
	h.buckets[i].Add(1)
}

// quantile returns the upper edge of the bucket holding quantile q, in
// milliseconds, or 0 for an empty histogram.
func (h *histogram) quantile(q float64) float64 {
	counts := make([]uint64, histBuckets)
	var n uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if rank >= n {
		rank = n - 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > rank {
			return ms(time.Duration(i+1) * histWidth)
		}
	}
	return ms(time.Second)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of durations in milliseconds; 0 when there are none.
func medianMS(ds []time.Duration) float64 { return quantileMS(ds, 0.5) }

// quantileMS is the q-quantile of ds in milliseconds (nearest rank), 0 for
// none.
func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[min(len(s)-1, int(q*float64(len(s))))])
}

// procSample is a process's CPU time and resident memory at one moment.
type procSample struct {
	cpu   time.Duration // user + system
	rssKB int64
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux ABI Go supports.
const clockTick = 10 * time.Millisecond

// readProc samples /proc/<pid>/stat (utime, stime) and
// /proc/<pid>/status (VmRSS).
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields we want come after its closing parenthesis.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	s := procSample{cpu: time.Duration(utime+stime) * clockTick}

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				s.rssKB, _ = strconv.ParseInt(f[0], 10, 64)
			}
			break
		}
	}
	return s, sc.Err()
}

// threadCPU is the CPU time of the calling OS thread. The caller must be
// locked to its thread (runtime.LockOSThread) for the figure to be its own.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage returns the first line of /proc/loadavg, to note with each
// figure how busy the machine was.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
