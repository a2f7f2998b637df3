package web

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Event is one Server-Sent Event.
type Event struct {
	Name string // event type; "" is "message"
	Data string // one line of text, usually JSON
}

// Broker fans events out to the browsers subscribed to a topic, e.g.
// "user:zhang" for one agent's screen pop. Slow subscribers lose events
// rather than block publishers: live views reload their state on
// reconnect.
type Broker struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]struct{}
}

// NewBroker returns an empty broker.
func NewBroker() *Broker { return &Broker{subs: map[string]map[chan Event]struct{}{}} }

// Subscribe returns a channel of the events of topics and a function that
// ends the subscription. One channel serves every topic, so a browser
// gets its own events and those of the groups it belongs to in order.
func (b *Broker) Subscribe(topics ...string) (<-chan Event, func()) {
	ch := make(chan Event, 32)
	b.mu.Lock()
	for _, topic := range topics {
		if b.subs[topic] == nil {
			b.subs[topic] = map[chan Event]struct{}{}
		}
		b.subs[topic][ch] = struct{}{}
	}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		for _, topic := range topics {
			delete(b.subs[topic], ch)
			if len(b.subs[topic]) == 0 {
				delete(b.subs, topic)
			}
		}
		b.mu.Unlock()
	}
}

// Publish sends ev to every subscriber of topic and returns how many got it.
func (b *Broker) Publish(topic string, ev Event) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for ch := range b.subs[topic] {
		select {
		case ch <- ev:
			n++
		default:
		}
	}
	return n
}

// Subscribers returns the number of subscribers of topic.
func (b *Broker) Subscribers(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[topic])
}

// serveSSE streams the events of topics to w until the client goes away,
// with a comment every 15 s to keep proxies from closing the connection.
func (b *Broker) serveSSE(w http.ResponseWriter, r *http.Request, topics ...string) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, done := b.Subscribe(topics...)
	defer done()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case ev := <-ch:
			if ev.Name != "" {
				fmt.Fprintf(w, "event: %s\n", ev.Name)
			}
			for _, line := range strings.Split(ev.Data, "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
		}
		fl.Flush()
	}
}
