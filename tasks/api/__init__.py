"""The JSON API for programs (a CMS): tasks and licence windows, over the same services as the admin and the import."""
