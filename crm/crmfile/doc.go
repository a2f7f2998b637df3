// Package crmfile reads and writes customer files: the CSV and XLSX an
// import previews and an export writes, with the source documents' Chinese
// headers (and their aliases) or the reader's language. It decides nothing
// and writes no events: the import's customers are created by crmapp
// through the crm commands, one row at a time, like a form's.
package crmfile
