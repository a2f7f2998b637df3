package pickup

import (
	"fmt"
	"strings"

	"branchline/replication"
)

// MaxDispatchText bounds DispatchText, in bytes.
const MaxDispatchText = 300

// DispatchText is the dispatch message (派件通知) sent to the courier's
// phone by SIP MESSAGE: number, sender, phone, address, goods, weight and
// note, in Chinese, at most MaxDispatchText bytes. The address is what a
// courier needs most, so the note and then the goods are cut first.
func DispatchText(p Pickup) string {
	head := fmt.Sprintf("【派件】%s  寄件人 %s %s  地址 %s", p.Number, p.Sender.Name, p.Sender.Phone, p.Sender.Address)
	tail := fmt.Sprintf("  重量 %s", kg(p.WeightGrams))
	if p.Pieces > 1 {
		tail += fmt.Sprintf("  %d件", p.Pieces)
	}
	if p.Payment == PaymentCollect {
		tail += "  到付"
	} else if p.Payment == PaymentCash {
		tail += "  现付"
	}
	goods := "  货物 " + p.Goods
	note := ""
	if p.Note != "" {
		note = "  备注 " + p.Note
	}
	room := MaxDispatchText - len(head) - len(tail)
	if room < 0 { // a very long address: keep the number, cut the rest
		return truncate(head+tail, MaxDispatchText)
	}
	if len(goods) > room {
		goods = truncate(goods, room)
	}
	room -= len(goods)
	note = truncate(note, max(room, 0))
	return head + goods + tail + note
}

// kg writes grams as kilograms, without trailing zeros: 2500 → "2.5kg".
func kg(grams int64) string {
	s := fmt.Sprintf("%d.%03d", grams/1000, grams%1000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "kg"
}

// NeedsNotice reports whether pickup p of branch waits for its courier to
// be told: assigned, at this branch, and not notified since. Notified
// counts only when it followed the current assignment, so a reassigned
// pickup is assigned again and needs a new notice.
func NeedsNotice(p *Pickup, branch string) bool {
	return p.Branch == branch && p.Courier != "" && p.Status == StatusAssigned
}

// Messenger queues a text message to a phone extension in the
// transaction of the notice, as the message's draft; ok false: the
// extension cannot take messages (it is not configured), and no notice
// is sent. The phone system provides it, so that this package needs
// nothing of telephony.
type Messenger func(views replication.Tx, extension, text string) (msg replication.Draft, ok bool, err error)

// NotifyCourier decides the dispatch notice (派件通知) of pickup id of
// branch: when the pickup needs one and its courier has an extension that
// takes messages, the message (DispatchText, queued by send as message
// messageID) and the pickup's notified state, in that order, to be
// recorded in one transaction, so that a courier is told exactly once
// (the notified state's account fact, if any, just before it).
// No drafts: no notice is due.
func NotifyCourier(views replication.Tx, branch, id, messageID string, send Messenger) ([]replication.Draft, error) {
	p, err := Get(views, id)
	if err != nil || !NeedsNotice(p, branch) {
		return nil, err
	}
	c, ok, err := GetCourier(views, p.Courier)
	if err != nil || !ok || c.Extension == "" {
		return nil, err
	}
	msg, ok, err := send(views, c.Extension, DispatchText(*p))
	if err != nil || !ok {
		return nil, err
	}
	n, err := Notify(views, id, messageID)
	if err != nil {
		return nil, err
	}
	return append([]replication.Draft{msg}, n...), nil
}
