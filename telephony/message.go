package telephony

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Event kinds of text messages to phones.
const (
	KindMessageQueued = "telephony.message.queued"
	KindMessageStatus = "telephony.message.status"
)

// Message statuses. Delivered beats failed, whatever order the events
// arrive in; a message with neither is pending and is retried when the
// extension registers.
const (
	MessagePending   = "pending"
	MessageDelivered = "delivered"
	MessageFailed    = "failed"
)

// MaxMessageText bounds a message, in bytes: one SIP MESSAGE over UDP.
const MaxMessageText = 1300

// Message is a text to an extension's phones (SIP MESSAGE).
type Message struct {
	ID        string
	Extension string
	Text      string
	Created   time.Time
	Status    string
	Detail    string
	StatusAt  time.Time
}

// MessageEntity is the entity of message id.
func MessageEntity(id string) string { return "message/" + id }

// Views:
//
//	tel \0 msg \0 id            -> register: MessageQueued proto
//	tel \0 msgok \0 id          -> register: detail (delivered)
//	tel \0 msgko \0 id          -> register: detail (failed)
//	tel \0 msgp \0 ext \0 id    -> "" while pending
func msgKey(id string) []byte   { return replication.Key("tel", "msg", id) }
func msgOKKey(id string) []byte { return replication.Key("tel", "msgok", id) }
func msgKOKey(id string) []byte { return replication.Key("tel", "msgko", id) }
func msgPendingKey(ext, id string) []byte {
	return replication.Key("tel", "msgp", ext, id)
}

// QueueMessage decides the event recording message id (a new ULID) to
// extension ext.
func QueueMessage(views replication.Tx, id, ext, text string) (replication.Draft, error) {
	b := &telv1.MessageQueued{Extension: ext, Text: text}
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("id", "bad_id", "%q is not a message id", id)
	}
	if err := checkMessageBody(b); err != nil {
		return replication.Draft{}, err
	}
	if _, ok, err := GetExtension(views, ext); err != nil {
		return replication.Draft{}, err
	} else if !ok {
		return replication.Draft{}, fmt.Errorf("extension %s: %w", ext, fault.ErrNotFound)
	}
	return replication.Draft{Kind: KindMessageQueued, Entity: MessageEntity(id), Body: b}, nil
}

func checkMessageBody(b *telv1.MessageQueued) error {
	switch {
	case !ValidExtension(b.GetExtension()):
		return fault.Invalidf("extension", "bad_extension", "%q is not an extension", b.GetExtension())
	case b.GetText() == "" || len(b.GetText()) > MaxMessageText:
		return fault.Invalidf("text", "bad_length", "1 to %d bytes", MaxMessageText)
	case !utf8.ValidString(b.GetText()) || strings.ContainsRune(b.GetText(), 0):
		return fault.Invalidf("text", "bad_text", "not valid UTF-8 text")
	}
	return nil
}

// SetMessageStatus decides the event recording a delivery outcome.
func SetMessageStatus(id, status, detail string, at time.Time) (replication.Draft, error) {
	if status != MessageDelivered && status != MessageFailed {
		return replication.Draft{}, fault.Invalidf("status", "bad_status", "%q is not a final status", status)
	}
	if len(detail) > 200 {
		detail = detail[:200]
	}
	detail = strings.ToValidUTF8(strings.ReplaceAll(detail, "\x00", ""), "")
	return replication.Draft{Kind: KindMessageStatus, Entity: MessageEntity(id),
		Body: &telv1.MessageStatus{Status: status, Detail: detail, AtMs: ms(at)}}, nil
}

func msgID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "message/")
	return id, ok && replication.ValidULID(id)
}

func checkMessageQueued(ev *replication.Event, b *telv1.MessageQueued) error {
	if _, ok := msgID(ev); !ok {
		return fmt.Errorf("entity %q is not a message", ev.Entity)
	}
	return checkMessageBody(b)
}

func applyMessageQueued(tx replication.Tx, ev *replication.Event, b *telv1.MessageQueued) error {
	id, ok := msgID(ev)
	if !ok || !ValidExtension(b.GetExtension()) {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, msgKey(id), enc, replication.StampOf(ev)); err != nil {
		return err
	}
	for _, k := range [][]byte{msgOKKey(id), msgKOKey(id)} {
		if _, final, err := replication.GetRegister(tx, k); err != nil || final {
			return err
		}
	}
	return tx.Set(msgPendingKey(b.GetExtension(), id), nil)
}

func checkMessageStatus(ev *replication.Event, b *telv1.MessageStatus) error {
	if _, ok := msgID(ev); !ok {
		return fmt.Errorf("entity %q is not a message", ev.Entity)
	}
	if b.GetStatus() != MessageDelivered && b.GetStatus() != MessageFailed {
		return fault.Invalidf("status", "bad_status", "%q is not a final status", b.GetStatus())
	}
	if len(b.GetDetail()) > 200 {
		return fault.Invalidf("detail", "too_long", "at most 200 bytes")
	}
	return nil
}

func applyMessageStatus(tx replication.Tx, ev *replication.Event, b *telv1.MessageStatus) error {
	id, ok := msgID(ev)
	if !ok {
		return nil
	}
	key := msgKOKey(id)
	if b.GetStatus() == MessageDelivered {
		key = msgOKKey(id)
	}
	val := fmt.Appendf(nil, "%d\x00%s", b.GetAtMs(), b.GetDetail())
	if _, _, err := replication.SetRegister(tx, key, val, replication.StampOf(ev)); err != nil {
		return err
	}
	reg, ok, err := replication.GetRegister(tx, msgKey(id))
	if err != nil || !ok {
		return err
	}
	var q telv1.MessageQueued
	if proto.Unmarshal(reg.Value, &q) != nil || !ValidExtension(q.GetExtension()) {
		return nil
	}
	return tx.Delete(msgPendingKey(q.GetExtension(), id))
}

// GetMessage reads message id with its status.
func GetMessage(views replication.Tx, id string) (*Message, error) {
	reg, ok, err := replication.GetRegister(views, msgKey(id))
	if err != nil {
		return nil, err
	}
	if !ok || !replication.ValidULID(id) {
		return nil, fmt.Errorf("message %s: %w", id, fault.ErrNotFound)
	}
	var q telv1.MessageQueued
	if err := proto.Unmarshal(reg.Value, &q); err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	m := &Message{ID: id, Extension: q.GetExtension(), Text: q.GetText(), Created: reg.Stamp.HLC.Time(), Status: MessagePending}
	for _, st := range []struct {
		key    []byte
		status string
	}{{msgOKKey(id), MessageDelivered}, {msgKOKey(id), MessageFailed}} {
		r, ok, err := replication.GetRegister(views, st.key)
		if err != nil {
			return nil, err
		}
		if ok {
			at, detail, _ := bytes.Cut(r.Value, []byte{0})
			var atMs int64
			fmt.Sscan(string(at), &atMs)
			m.Status, m.Detail, m.StatusAt = st.status, string(detail), fromMs(atMs)
			break
		}
	}
	return m, nil
}

// PendingMessages returns the ids of messages to ext not yet delivered or
// failed, oldest first.
func PendingMessages(views replication.Tx, ext string) ([]string, error) {
	p := replication.Prefix("tel", "msgp", ext)
	var ids []string
	err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(p):]))
		return true, nil
	})
	return ids, err
}
