// Package mcptools serves pdfqa as a Model Context Protocol tool server
// (built on the official MCP Go SDK): tools list_collections, search, ask
// and ingest, with JSON schemas inferred from their Go types. ask returns
// its citations as structured content. `pdfqa mcp` serves it over stdio;
// the gateway over streamable HTTP at /mcp.
package mcptools

import (
	"context"
	"encoding/base64"
	"fmt"
	"iter"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/gateway/clientwire"
)

// Backend is what the tools call: the SDK's Client.
type Backend interface {
	Collections(ctx context.Context) ([]*pdfqa.Collection, error)
	Search(ctx context.Context, collection, query string, o *pdfqa.SearchOptions) ([]*pdfqa.Passage, error)
	Ask(ctx context.Context, collection, question string, opts ...pdfqa.AskOption) iter.Seq2[pdfqa.Event, error]
	Ingest(ctx context.Context, collection string, progress func(pdfqa.Progress), files ...string) ([]pdfqa.Ingested, error)
	IngestDocument(ctx context.Context, collection, name string, data []byte, progress func(pdfqa.Progress)) (*pdfqa.Document, error)
}

// Options configure the server.
type Options struct {
	Backend Backend
	Version string
	// LocalFiles lets ingest read paths on this machine (stdio, where the
	// caller's machine is this one); over HTTP only uploaded bytes are taken.
	LocalFiles bool
}

// NewServer returns the MCP server with pdfqa's tools.
func NewServer(o Options) *mcp.Server {
	if o.Version == "" {
		o.Version = "dev"
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "pdfqa", Title: "pdfqa: cited answers over PDF collections", Version: o.Version}, nil)
	t := tools{o}
	mcp.AddTool(s, &mcp.Tool{Name: "list_collections", Description: "List the PDF collections pdfqa can search and answer over."}, t.listCollections)
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "Search a collection's PDFs: the passages that best match a query, with document, page, score and page boxes."}, t.search)
	mcp.AddTool(s, &mcp.Tool{Name: "ask", Description: "Answer a question over a collection's PDFs. The answer cites its sources inline as [document p.N]; the structured result lists each citation with its document, page, quoted text, score and boxes."}, t.ask)
	ingestDoc := "Upload PDFs into a collection (created if missing) and wait until they are indexed. Give documents as base64."
	if o.LocalFiles {
		ingestDoc += " Or give paths of PDF files on this machine."
	}
	mcp.AddTool(s, &mcp.Tool{Name: "ingest", Description: ingestDoc}, t.ingest)
	return s
}

type tools struct{ Options }

// CollectionInfo is one collection.
type CollectionInfo struct {
	Name      string `json:"name"`
	Documents int32  `json:"documents"`
	Chunks    int64  `json:"chunks"`
}

// ListCollectionsOut is list_collections' result.
type ListCollectionsOut struct {
	Collections []CollectionInfo `json:"collections"`
}

func (t tools) listCollections(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, ListCollectionsOut, error) {
	cs, err := t.Backend.Collections(ctx)
	if err != nil {
		return nil, ListCollectionsOut{}, err
	}
	out := ListCollectionsOut{Collections: []CollectionInfo{}}
	for _, c := range cs {
		out.Collections = append(out.Collections, CollectionInfo{Name: c.GetName(), Documents: c.GetDocumentCount(), Chunks: c.GetChunkCount()})
	}
	return nil, out, nil
}

// SearchIn is search's input.
type SearchIn struct {
	Collection string `json:"collection" jsonschema:"the collection to search"`
	Query      string `json:"query" jsonschema:"what to look for"`
	TopK       int    `json:"top_k,omitempty" jsonschema:"number of passages (default 5, at most 50)"`
}

// Box is a region of a page, in PDF points from the page's top left.
type Box = clientwire.Box

// Passage is one search result.
type Passage struct {
	Document   string  `json:"document"`
	DocumentID string  `json:"document_id"`
	Page       int32   `json:"page"`
	PageEnd    int32   `json:"page_end"`
	Text       string  `json:"text"`
	Score      float32 `json:"score"`
	Boxes      []Box   `json:"boxes"`
}

// SearchOut is search's result.
type SearchOut struct {
	Passages []Passage `json:"passages"`
}

func (t tools) search(ctx context.Context, _ *mcp.CallToolRequest, in SearchIn) (*mcp.CallToolResult, SearchOut, error) {
	if strings.TrimSpace(in.Collection) == "" {
		return nil, SearchOut{}, fmt.Errorf("collection is required")
	}
	if in.TopK < 0 || in.TopK > 50 {
		return nil, SearchOut{}, fmt.Errorf("top_k must be between 1 and 50")
	}
	if in.TopK == 0 {
		in.TopK = 5
	}
	ps, err := t.Backend.Search(ctx, in.Collection, in.Query, &pdfqa.SearchOptions{TopK: in.TopK})
	if err != nil {
		return nil, SearchOut{}, err
	}
	out := SearchOut{Passages: []Passage{}}
	for _, p := range ps {
		out.Passages = append(out.Passages, passage(p))
	}
	return nil, out, nil
}

func passage(p *pdfqa.Passage) Passage {
	return Passage{Document: p.GetDocumentName(), DocumentID: p.GetDocumentId(), Page: p.GetPage(), PageEnd: max(p.GetPageEnd(), p.GetPage()),
		Text: p.GetText(), Score: p.GetScore(), Boxes: clientwire.Boxes(p, 0)}
}

// AskIn is ask's input.
type AskIn struct {
	Collection string `json:"collection" jsonschema:"the collection to answer over"`
	Question   string `json:"question" jsonschema:"the question"`
	Adapter    string `json:"adapter,omitempty" jsonschema:"a LoRA adapter of the answering model (default: the base model)"`
	SingleShot bool   `json:"single_shot,omitempty" jsonschema:"one search and one answer, no planner or verifier (faster)"`
}

// Citation is one source of an answer: document, page, quoted text, and
// the score and boxes of the passage it quotes.
type Citation = clientwire.Citation

// AskOut is ask's result.
type AskOut struct {
	Answer    string     `json:"answer"`
	RunID     string     `json:"run_id"`
	Citations []Citation `json:"citations"`
	Degraded  bool       `json:"degraded,omitempty"`
	Note      string     `json:"note,omitempty"`
}

func (t tools) ask(ctx context.Context, _ *mcp.CallToolRequest, in AskIn) (*mcp.CallToolResult, AskOut, error) {
	if strings.TrimSpace(in.Collection) == "" || strings.TrimSpace(in.Question) == "" {
		return nil, AskOut{}, fmt.Errorf("collection and question are required")
	}
	var opts []pdfqa.AskOption
	if in.Adapter != "" {
		opts = append(opts, pdfqa.WithAdapter(in.Adapter))
	}
	if in.SingleShot {
		opts = append(opts, pdfqa.SingleShot())
	}
	var run *pdfqa.Run
	for ev, err := range t.Backend.Ask(ctx, in.Collection, in.Question, opts...) {
		if err != nil {
			return nil, AskOut{}, err
		}
		if d, ok := ev.(pdfqa.RunDone); ok {
			run = d.Run
		}
	}
	run, err := clientwire.Answered(run)
	if err != nil {
		return nil, AskOut{}, fmt.Errorf("pdfqa could not answer: %w", err)
	}
	out := AskOut{Answer: run.GetAnswer(), RunID: run.GetId(), Citations: clientwire.Citations(run), Degraded: run.GetDegraded(), Note: run.GetError()}
	// The text block is the answer as a person reads it; the structured
	// content holds the citations for the host.
	var sb strings.Builder
	sb.WriteString(out.Answer)
	if len(out.Citations) > 0 {
		sb.WriteString("\n\nSources:")
		for _, c := range out.Citations {
			fmt.Fprintf(&sb, "\n- %s p.%d", c.Document, c.Page)
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: sb.String()}}}, out, nil
}

// Upload is one PDF given as bytes.
type Upload struct {
	Name          string `json:"name" jsonschema:"the document's file name"`
	ContentBase64 string `json:"content_base64" jsonschema:"the PDF, base64-encoded"`
}

// IngestIn is ingest's input.
type IngestIn struct {
	Collection string   `json:"collection" jsonschema:"the collection to upload into (created if missing)"`
	Documents  []Upload `json:"documents,omitempty" jsonschema:"PDFs given as bytes"`
	Paths      []string `json:"paths,omitempty" jsonschema:"paths of PDF files on the server's machine (stdio server only)"`
}

// Ingested is one document's outcome.
type Ingested struct {
	Name       string `json:"name"`
	DocumentID string `json:"document_id,omitempty"`
	State      string `json:"state"`
	Pages      int32  `json:"pages"`
	Chunks     int32  `json:"chunks"`
	Error      string `json:"error,omitempty"`
}

// IngestOut is ingest's result.
type IngestOut struct {
	Documents []Ingested `json:"documents"`
}

func (t tools) ingest(ctx context.Context, _ *mcp.CallToolRequest, in IngestIn) (*mcp.CallToolResult, IngestOut, error) {
	switch {
	case strings.TrimSpace(in.Collection) == "":
		return nil, IngestOut{}, fmt.Errorf("collection is required")
	case len(in.Documents) == 0 && len(in.Paths) == 0:
		return nil, IngestOut{}, fmt.Errorf("give documents (base64) or paths")
	case len(in.Paths) > 0 && !t.LocalFiles:
		return nil, IngestOut{}, fmt.Errorf("this server does not read local paths: give documents as base64")
	}
	out := IngestOut{Documents: []Ingested{}}
	add := func(name string, d *pdfqa.Document, err error) {
		r := Ingested{Name: name}
		if err != nil {
			r.State, r.Error = "FAILED", err.Error()
		} else {
			r.DocumentID, r.State, r.Pages, r.Chunks, r.Error = d.GetId(), strings.TrimPrefix(d.GetState().String(), "DOCUMENT_STATE_"), d.GetPageCount(), d.GetChunkCount(), d.GetError()
		}
		out.Documents = append(out.Documents, r)
	}
	for _, u := range in.Documents {
		data, err := base64.StdEncoding.DecodeString(u.ContentBase64)
		if err != nil {
			add(u.Name, nil, fmt.Errorf("content_base64 is not base64: %v", err))
			continue
		}
		d, err := t.Backend.IngestDocument(ctx, in.Collection, u.Name, data, nil)
		add(u.Name, d, err)
	}
	if len(in.Paths) > 0 {
		res, _ := t.Backend.Ingest(ctx, in.Collection, nil, in.Paths...)
		for _, r := range res {
			add(r.File, r.Document, r.Err)
		}
	}
	return nil, out, nil
}
