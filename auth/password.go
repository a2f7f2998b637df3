package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes), a
// login costs ~30 ms of one core on a branch PC.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32

	// maxArgonMemory bounds, in KiB, the memory cost CheckPassword accepts
	// from a stored hash: 1 GiB, far above what HashPassword writes.
	maxArgonMemory = 1 << 20
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// ErrWeakPassword is returned for passwords shorter than MinPasswordLen.
var ErrWeakPassword = fmt.Errorf("password must have at least %d characters", MinPasswordLen)

// HashPassword returns an argon2id hash of password in PHC string form.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", ErrWeakPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// CheckPassword reports whether password matches hash, in time that does
// not depend on where they differ.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	// argon2 panics on zero passes or lanes, and a corrupt memory cost
	// would try to allocate up to 4 TiB: refuse such hashes instead.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil ||
		iters < 1 || threads < 1 || mem > maxArgonMemory {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// ErrBadCredentials is returned for a wrong username or password; which of
// the two was wrong is not told.
var ErrBadCredentials = errors.New("wrong username or password")

// dummyHash is checked against when the user does not exist, so that a
// login for an unknown user takes as long as one with a wrong password.
var dummyHash, _ = HashPassword("branchline-dummy-password")

// CheckUnknown spends the time of one password check.
func CheckUnknown(password string) {
	_, _ = CheckPassword(dummyHash, password) // result ignored on purpose
}
