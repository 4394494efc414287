package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/parley-chat/parley/node"
)

// Endpoints for what people need to see: read positions, the conversation
// last open, mutes, delivery state, missing messages, read receipts, and
// the invite as a QR code.

// MarkReadResponse answers POST /v1/groups/{ref}/read.
type MarkReadResponse struct {
	Group node.GroupInfo `json:"group"`
}

// LastOpenResponse answers GET /v1/last-open ("" when none).
type LastOpenResponse struct {
	Group string `json:"group"`
}

// DeliveryRequest asks for the delivery state of own messages.
type DeliveryRequest struct {
	IDs []string `json:"ids"`
}

// ReadReceiptsSetting is the read-receipts profile setting.
type ReadReceiptsSetting struct {
	On bool `json:"on"`
}

// QRRequest is the text to draw as a QR code (an invite code).
type QRRequest struct {
	Text string `json:"text"`
}

// maxQRText bounds the text of a QR code (invite codes are far shorter).
const maxQRText = 2048

func (s *Server) routeUX() {
	s.mux.HandleFunc("POST /v1/groups/{ref}/read", s.markRead)
	s.mux.HandleFunc("GET /v1/last-open", s.lastOpen)
	s.mux.HandleFunc("POST /v1/groups/{ref}/mute", s.mute(true))
	s.mux.HandleFunc("POST /v1/groups/{ref}/unmute", s.mute(false))
	s.mux.HandleFunc("POST /v1/groups/{ref}/delivery", s.delivery)
	s.mux.HandleFunc("GET /v1/groups/{ref}/missing", s.missing)
	s.mux.HandleFunc("GET /v1/profile/read-receipts", s.readReceipts)
	s.mux.HandleFunc("PUT /v1/profile/read-receipts", s.setReadReceipts)
	s.mux.HandleFunc("POST /v1/qr", s.qr)
}

// tooLong turns a send body over MaxBodyBytes into an answer that names
// the message limit.
func tooLong(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("message too long; the limit is %d bytes of UTF-8: %w", node.MaxTextLen, err) // still a 413
	}
	return err
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	if err := s.b.MarkRead(ref); err != nil {
		s.fail(w, r, err)
		return
	}
	gi, err := s.b.Group(ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, MarkReadResponse{Group: gi})
}

func (s *Server) lastOpen(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, LastOpenResponse{Group: s.b.LastOpen()})
}

func (s *Server) mute(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		if err := s.b.SetMuted(ref, on); err != nil {
			s.fail(w, r, err)
			return
		}
		gi, err := s.b.Group(ref)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, gi)
	}
}

func (s *Server) delivery(w http.ResponseWriter, r *http.Request) {
	var req DeliveryRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	ds, err := s.b.Delivery(r.PathValue("ref"), req.IDs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ds)
}

func (s *Server) missing(w http.ResponseWriter, r *http.Request) {
	ms, err := s.b.Missing(r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ms == nil {
		ms = []node.MissingInfo{}
	}
	writeJSON(w, http.StatusOK, ms)
}

func (s *Server) readReceipts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ReadReceiptsSetting{On: s.b.ReadReceipts()})
}

func (s *Server) setReadReceipts(w http.ResponseWriter, r *http.Request) {
	var req ReadReceiptsSetting
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.b.SetReadReceipts(req.On); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// qr draws text as a QR code in SVG, encoded as the terminal chat encodes
// invites (upper case for the alphanumeric mode, low error correction).
func (s *Server) qr(w http.ResponseWriter, r *http.Request) {
	var req QRRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Text == "" || len(req.Text) > maxQRText {
		s.fail(w, r, fmt.Errorf("%w: QR text is 1 to %d bytes", node.ErrInvalidInput, maxQRText))
		return
	}
	svg, err := QRSVG(req.Text)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", node.ErrInvalidInput, err))
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(svg))
}

// QRSVG draws text as a QR code: an SVG of dark squares on white with a
// quiet zone of 4 modules.
func QRSVG(text string) (string, error) {
	q, err := qrcode.New(strings.ToUpper(text), qrcode.Low)
	if err != nil {
		return "", err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	const quiet = 4
	n := len(bm) + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
