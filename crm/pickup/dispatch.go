package pickup

import (
	"fmt"
	"strings"
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
