"""The portal's content (门户内容, R-6.2.1): policy documents (政策法规) and pages such as 中心简介 that
administrators write — `records` (fields and checks), `rendering` (Markdown through the sanitiser),
`diff` (between revisions) and `publishing` (`CaseEngine.content`: revisions, withdraw, restore)."""
