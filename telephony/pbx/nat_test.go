package pbx

import (
	"context"
	"testing"

	"branchline/telephony"
)

// TestNATPhone: a phone behind NAT registers with a Contact (and Via) of
// its private address, which the switch cannot reach; over UDP it asks
// for symmetric answers (rport). Its text message and the calls to it must
// go where its REGISTER came from (RFC 3581), and over TCP down the
// connection it registered on (RFC 5626's flow), not to its Contact.
func TestNATPhone(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		name := "udp"
		if tcp {
			name = "tcp"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.extension("8001")
			phone := newRawUA(t, h.srv.UDPAddr())
			if tcp {
				phone = newRawTCPUA(t, h.srv.TCPAddr())
			}
			// 192.0.2.10 is the phone's address inside its NAT: nothing
			// listens there for the switch.
			reg := registration{ext: "8001", password: extPassword("8001"), expires: 60,
				contact: "192.0.2.10:5060", via: "192.0.2.10:5060;rport"}
			if res, _ := phone.register(reg); res.StatusCode != 200 {
				t.Fatalf("REGISTER: %d %s", res.StatusCode, res.Reason)
			}

			sent := make(chan *telephony.Message, 1)
			go func() {
				m, err := h.srv.SendMessage(context.Background(), "dispatcher", "8001", "取件 SH-1")
				if err != nil {
					t.Error(err)
				}
				sent <- m
			}()
			msg := phone.request("MESSAGE")
			if string(msg.Body()) != "取件 SH-1" {
				t.Fatalf("MESSAGE body %q", msg.Body())
			}
			phone.answer(msg, 200, "OK")
			if m := <-sent; m == nil || m.Status != telephony.MessageDelivered {
				t.Fatalf("message = %+v", m)
			}

			// A call to the extension from the trunk rings the phone where
			// it is; it is busy, and the caller hears so.
			caller := newRawUA(t, h.srv.UDPAddr())
			callID := newCallID()
			caller.send(caller.build(reqSpec{method: "INVITE", ruri: "sip:8001@127.0.0.1", from: "13800000021", to: "8001",
				callID: callID, contact: "<sip:13800000021@" + caller.addr() + ">"}))
			inv := phone.request("INVITE")
			phone.answer(inv, 486, "Busy Here")
			if res := caller.final(callID); res.StatusCode != 486 {
				t.Fatalf("caller got %d %s, want 486", res.StatusCode, res.Reason)
			}
			h.idle()
		})
	}
}
