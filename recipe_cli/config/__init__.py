"""Building the config a run trains with: packaged recipe < user config < environment < command line, and the
schema [training] is resolved against."""
