module github.com/pdfqa/pdfqa/services/gateway

go 1.26.8
