module github.com/pdfqa/pdfqa/platform

go 1.26.8
