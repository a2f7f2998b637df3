// Package dialplan holds the rules of names in the phone system that more
// than one domain relies on: what an extension number is and what can
// name a user who takes calls and messages. telephony configures
// extensions and queues with them; crm/pickup gives couriers an extension
// and names them as users. Keeping the rules here lets both use them
// without one domain importing the other.
//
// It depends on nothing of Branchline's.
package dialplan

import "regexp"

var (
	extensionRe = regexp.MustCompile(`^[0-9]{2,10}$`)
	userRe      = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
)

// ValidExtension reports whether s can be an extension number: 2 to 10
// digits, so that it never looks like an outside number.
func ValidExtension(s string) bool { return extensionRe.MatchString(s) }

// ValidUser reports whether s can name a user in telephony configuration
// (queue members, agents, couriers): the characters of SIP user parts and
// of Branchline user names, at most 64.
func ValidUser(s string) bool { return userRe.MatchString(s) }
