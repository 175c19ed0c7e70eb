"""The matter catalog (事项清单 R-6.1.3.1) and each material's review standard (审查标准 R-6.1.3.2):
`records` (the fields, the one check, the normal form), `service` (the database, revisions, import),
`exchange` (YAML and XLSX files a county reviews in a spreadsheet), `images` (the store of example
images, 错误示例图片)."""
