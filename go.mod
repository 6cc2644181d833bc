module github.com/pdfqa/pdfqa

go 1.26.8
