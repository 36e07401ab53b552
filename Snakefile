# The project's top-level Snakefile: `snakemake` run from the repository root reads this one.
# The workflow itself lives in workflow/Snakefile (the Snakemake catalog layout, also what a
# host workflow loads as a module); includes inside it resolve relative to that file.


include: "workflow/Snakefile"


# An include never sets the default target, so name it here: everything `all` asks for.
rule default:
    default_target: True
    input:
        rules.all.input,
    localrule: True
