"""电子化归档 (R-6.1.2.2): the electronic archive of ended cases — register, dossier, PDF, package."""
