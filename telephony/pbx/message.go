package pbx

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
)

// messenger delivers text messages (SIP MESSAGE) to extensions' phones.
// A message is an event first (durable, replicated, with its status), so
// one to a phone that is not registered waits in the views and is sent
// when a phone of the extension registers.
type messenger struct {
	s *Server

	mu       sync.Mutex
	inflight map[string]bool
}

const messageTimeout = 4 * time.Second

// SendMessage records a message to ext and tries to deliver it at once;
// it returns the message with its status (pending when no phone is
// registered or none answered in time).
func (s *Server) SendMessage(ctx context.Context, actor, ext, text string) (*telephony.Message, error) {
	id := s.ids.New(s.now())
	if _, err := s.cfg.Store.Exec(ctx, actor, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.QueueMessage(views, id, ext, text)
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, err
	}
	s.msg.deliver(ctx, id, ext, text)
	return s.Message(id)
}

// Deliver tries to deliver message id, recorded earlier by another
// command (a pickup's dispatch message is recorded in the same
// transaction as the pickup's notified state). A message that is no
// longer pending is left alone; one that no phone takes stays pending
// for the extension's next registration.
func (s *Server) Deliver(ctx context.Context, id string) error {
	m, err := s.Message(id)
	if err != nil {
		return err
	}
	if m.Status != telephony.MessagePending {
		return nil
	}
	s.msg.deliver(ctx, m.ID, m.Extension, m.Text)
	return nil
}

// Message reads message id with its status.
func (s *Server) Message(id string) (*telephony.Message, error) {
	var m *telephony.Message
	err := s.cfg.Store.View(func(views replication.Tx) error {
		var err error
		m, err = telephony.GetMessage(views, id)
		return err
	})
	return m, err
}

// deliver sends message id to every phone of ext until one takes it.
// Phones that answer with an error make it failed; no answer leaves it
// pending for the next registration.
func (m *messenger) deliver(ctx context.Context, id, ext, text string) {
	m.mu.Lock()
	if m.inflight[id] {
		m.mu.Unlock()
		return
	}
	m.inflight[id] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.inflight, id)
		m.mu.Unlock()
	}()
	s := m.s
	var final *sip.Response
	transient := false
	for _, b := range s.reg.contacts(ext) {
		req := sip.NewRequest(sip.MESSAGE, *b.URI.Clone())
		from := &sip.FromHeader{DisplayName: "Branchline", Address: sip.Uri{Scheme: "sip", User: "branchline", Host: s.host}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: ext, Host: s.host}, Params: sip.NewParams()})
		req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
		req.SetBody([]byte(text))
		req.SetTransport(transportName(b.Transport))
		if dst := s.flow(b); dst != "" {
			req.SetDestination(dst)
		}
		cctx, cancel := context.WithTimeout(ctx, messageTimeout)
		res, err := s.clientFor(b.Transport).Do(cctx, req)
		cancel()
		switch {
		case err != nil:
			transient = true
		case res.IsSuccess():
			m.status(id, telephony.MessageDelivered, res.StartLine())
			return
		case res.StatusCode == sip.StatusRequestTimeout || res.StatusCode == sip.StatusServiceUnavailable ||
			res.StatusCode == sip.StatusTemporarilyUnavailable:
			transient = true
		default:
			final = res
		}
	}
	if final != nil && !transient {
		m.status(id, telephony.MessageFailed, final.StartLine())
	}
}

func (m *messenger) status(id, status, detail string) {
	if err := m.s.exec("", func(views replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.SetMessageStatus(id, status, detail, m.s.now())
		return []replication.Draft{d}, err
	}); err != nil {
		m.s.log.Error("sip: message status", "message", id, "err", err)
	}
}

// flush delivers the messages waiting for ext (a phone just registered).
func (m *messenger) flush(ext string) {
	var pending []*telephony.Message
	err := m.s.cfg.Store.View(func(views replication.Tx) error {
		ids, err := telephony.PendingMessages(views, ext)
		if err != nil {
			return err
		}
		for _, id := range ids {
			msg, err := telephony.GetMessage(views, id)
			if errors.Is(err, fault.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			pending = append(pending, msg)
		}
		return nil
	})
	if err != nil {
		m.s.log.Error("sip: pending messages", "extension", ext, "err", err)
		return
	}
	for _, msg := range pending {
		if m.s.ctx.Err() != nil {
			return
		}
		m.deliver(m.s.ctx, msg.ID, ext, msg.Text)
	}
}

// onMessage serves MESSAGE from a phone: within a call it goes to the
// other party; outside, only registered phones may send, and the text is
// accepted (and logged).
func (s *Server) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		s.onInDialog(req, tx)
		return
	}
	from := req.From().Address.User
	if !telephony.ValidExtension(from) || !s.reg.fromSource(from, req.Source()) {
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	s.log.Info("sip: message from a phone", "extension", from, "bytes", len(req.Body()))
	s.respond(tx, req, sip.StatusOK, "OK")
}
