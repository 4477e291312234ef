"""Reading sample files into validated records; annotator.services.importing writes them."""
