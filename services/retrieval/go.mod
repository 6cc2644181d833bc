module github.com/pdfqa/pdfqa/services/retrieval

go 1.26.8
