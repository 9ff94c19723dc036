"""The clerk console (/clerk): window keys in a browser, for windows without a hardware pad."""
