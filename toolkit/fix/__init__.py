"""When an int8 artifact fails: find the layers that lose accuracy and try remedies until one passes."""
