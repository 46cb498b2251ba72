"""Reading users' files into the database and writing layers back out."""
