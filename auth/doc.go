// Package auth proves who is calling: password hashes (argon2id), signed
// bearer tokens, and the principal a verified token stands for. Users,
// roles and permissions build on it; it depends on no store or transport.
package auth
