package pbx

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
)

// TestLoad measures calls per second through the ACD: a sipp UAC calls a
// queue of many agents (extensions registered by sipp, all answered by
// one sipp UAS), INVITE/180/200/ACK/BYE, and every call must succeed. It
// runs with PBX_LOAD=<calls per second> (e.g. 300); PBX_LOAD_CALLS sets
// the number of calls (default 10 s worth), PBX_LOAD_HOLD_MS the talk time
// (default 0: the agent's phone answers after 50 ms, the caller hangs up
// at once). 200 agents: with talk time T the ACD cannot place more than
// about 200/T calls per second.
func TestLoad(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("PBX_LOAD"))
	if rate <= 0 || testing.Short() {
		t.Skip("set PBX_LOAD=<calls per second> to run the load test")
	}
	calls := 10 * rate
	if n, err := strconv.Atoi(os.Getenv("PBX_LOAD_CALLS")); err == nil && n > 0 {
		calls = n
	}
	hold := "0" // talk time (ms) of each call; PBX_LOAD_HOLD_MS
	if v := os.Getenv("PBX_LOAD_HOLD_MS"); v != "" {
		hold = v
	}
	const agents = 200
	h := newHarness(t)
	members := map[string]int{}
	for i := range agents {
		ext := strconv.Itoa(8000 + i)
		h.exec(func(views replication.Tx) ([]replication.Draft, error) {
			d, err := telephony.SetExtension(views, telephony.Extension{Number: ext, User: agentUser(ext)}, extPassword(ext))
			return []replication.Draft{d}, err
		})
		members[ext] = 1
	}
	h.queue(telephony.Queue{Name: "load", Strategy: telephony.LongestIdle, DIDs: []string{"4000"}, MaxWait: 30 * time.Second}, members)
	uas, uasPort := h.serve("agent.xml", nil, "u1", "-m", strconv.Itoa(calls), "-l", "100000", "-timeout", "600s")
	// The agents' phones are bound directly (registration with digest
	// is tested elsewhere): every extension's Contact is the one UAS.
	h.srv.reg.mu.Lock()
	for i := range agents {
		ext := strconv.Itoa(8000 + i)
		b := &Binding{Extension: ext, URI: sip.Uri{Scheme: "sip", User: ext, Host: "127.0.0.1", Port: uasPort},
			Transport: "udp", Source: "127.0.0.1:" + strconv.Itoa(uasPort), Expires: time.Now().Add(time.Hour)}
		h.srv.reg.byExt[ext] = []*Binding{b}
		h.srv.reg.total++
	}
	h.srv.reg.mu.Unlock()
	for i := range agents {
		h.login(strconv.Itoa(8000+i), true)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	caller := h.sipp("caller.xml", nil, "u1", "-i", "127.0.0.1", "-m", strconv.Itoa(calls),
		"-r", strconv.Itoa(rate), "-l", "2000", "-s", "4000", "-key", "caller", "13800000000", "-d", hold, "-timeout", "600s")
	// Sample the heap and the calls up while the load runs.
	peakCalls, peakHeap := 0, uint64(0)
	for done := false; !done; {
		select {
		case <-caller.done:
			done = true
		case <-time.After(200 * time.Millisecond):
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if n := h.srv.ActiveCalls(); n > peakCalls {
				peakCalls, peakHeap = n, m.HeapInuse
			}
		}
	}
	elapsed := time.Since(start)
	states := map[telephony.AgentState]int{}
	reasons := map[string]int{}
	for _, a := range h.srv.Board().Agents {
		states[a.State]++
		reasons[a.Reason]++
	}
	t.Logf("agents after the load: %v (reasons %v)", states, reasons)
	caller.wait(t, time.Second)
	uas.wait(t, 30*time.Second)
	h.idle()
	perCall := 0.0
	if peakCalls > 0 && peakHeap > before.HeapInuse {
		perCall = float64(peakHeap-before.HeapInuse) / float64(peakCalls)
	}
	n := len(h.records())
	t.Logf("%d calls at %d/s offered: %.0f calls/s completed in %v, 0 failed; %d records; peak %d calls up, ~%.1f KiB heap per call up",
		calls, rate, float64(calls)/elapsed.Seconds(), elapsed.Round(time.Millisecond), n, peakCalls, perCall/1024)
	if states[telephony.Ringing] > 0 || states[telephony.OnCall] > 0 {
		t.Fatalf("agents left busy: %v", states)
	}
	if n != calls {
		t.Fatalf("%d records for %d calls", n, calls)
	}
}
