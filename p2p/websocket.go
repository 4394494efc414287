package p2p

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
)

// WithTLSCertificate sets the certificate served on /tls/ws (WebSocket over
// TLS) listen addresses. Without it a host asked to listen on /tls/ws makes
// a self-signed one in memory.
func WithTLSCertificate(cert tls.Certificate) Option {
	return func(c *config) { c.tlsCert = &cert }
}

// transportOptions are libp2p's default transports (TCP, QUIC, WebSocket,
// WebTransport, WebRTC), with WebSocket able to listen on /tls/ws and to
// dial /tls/ws servers whose certificate no CA vouches for.
//
// Why a dial may skip certificate verification: the TLS layer of a /tls/ws
// connection is camouflage (it makes libp2p look like HTTPS to a censoring
// firewall), not authentication. Inside the WebSocket, libp2p runs its own
// security handshake (Noise or TLS 1.3 with the libp2p extension) that proves
// the remote holds the private key of the peer id the address ends in; a
// connection to any other key fails there. A man in the middle who swaps the
// outer certificate sees only that inner handshake, which it can neither
// complete nor read. So a relay can use a self-signed certificate and
// members need no CA, no pinning and no domain name. docs/transports.md has
// the longer version.
func transportOptions(c *config, listen []string) ([]libp2p.Option, error) {
	wsOpts := []any{
		// #nosec G402 -- the peer id is authenticated inside; see above.
		ws.WithTLSClientConfig(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}),
	}
	cert := c.tlsCert
	if cert == nil && ListensTLSWebSocket(listen) {
		gen, err := SelfSignedCert()
		if err != nil {
			return nil, err
		}
		cert = &gen
	}
	if cert != nil {
		wsOpts = append(wsOpts, ws.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}))
	}
	return []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(ws.New, wsOpts...),
		libp2p.Transport(webtransport.New),
		libp2p.Transport(libp2pwebrtc.New),
	}, nil
}

// ListensTLSWebSocket reports whether any of the multiaddrs is a secure
// WebSocket (/tls/ws or the older /wss).
func ListensTLSWebSocket(listen []string) bool {
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		_, errWSS := a.ValueForProtocol(ma.P_WSS)
		_, errTLS := a.ValueForProtocol(ma.P_TLS)
		_, errWS := a.ValueForProtocol(ma.P_WS)
		if errWSS == nil || errTLS == nil && errWS == nil {
			return true
		}
	}
	return false
}

// SelfSignedCert makes an ECDSA P-256 certificate valid for ten years. Its
// subject names nothing: a generic certificate says less to an observer.
func SelfSignedCert() (tls.Certificate, error) {
	certPEM, keyPEM, err := selfSignedPEM()
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func selfSignedPEM() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("p2p: tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("p2p: tls serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("p2p: tls certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("p2p: tls key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// LoadOrCreateCert loads a PEM certificate and key, or, if neither file
// exists, makes a self-signed pair and writes it there (the key 0600), so a
// relay keeps the same certificate across restarts.
func LoadOrCreateCert(certFile, keyFile string) (tls.Certificate, error) {
	_, errC := os.Stat(certFile)
	_, errK := os.Stat(keyFile)
	if errors.Is(errC, os.ErrNotExist) && errors.Is(errK, os.ErrNotExist) {
		certPEM, keyPEM, err := selfSignedPEM()
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("p2p: write tls key: %w", err)
		}
		if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("p2p: write tls certificate: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("p2p: load tls certificate: %w", err)
	}
	return cert, nil
}

// BridgeLine is a relay's addresses as one line that --bootstrap accepts:
// its full multiaddrs (each ending in /p2p/<id>), comma-separated. Loopback
// addresses are left out unless there is nothing else.
func BridgeLine(addrs []ma.Multiaddr) string {
	var all, outside []string
	for _, a := range addrs {
		all = append(all, a.String())
		if !isLoopback(a) {
			outside = append(outside, a.String())
		}
	}
	if len(outside) > 0 {
		return strings.Join(outside, ",")
	}
	return strings.Join(all, ",")
}

func isLoopback(a ma.Multiaddr) bool {
	if v, err := a.ValueForProtocol(ma.P_IP4); err == nil {
		return strings.HasPrefix(v, "127.")
	}
	if v, err := a.ValueForProtocol(ma.P_IP6); err == nil {
		return v == "::1"
	}
	return false
}
