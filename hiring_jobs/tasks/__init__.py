"""Task modules, one per family. Importing this package registers every task on the app."""
